//! JSON for the webhook: the structured answer plus its plain-text rendering.

use serde_json::{json, Value};

use crate::agent::Answer;

pub fn render(a: &Answer) -> Value {
    json!({
        "conversation_id": a.conversation_id,
        "text": super::markdown::render(a),
        "answer": a,
    })
}
