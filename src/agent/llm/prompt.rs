//! The messages a turn starts with: the system prompt (with today, the
//! accounts and the persona), the conversation so far within a token budget
//! (older turns summarized, one line each), and the question.

use chrono::NaiveDate;

use super::Persona;
use crate::llm::ChatMessage;
use crate::store::{Message, Role};

const SYSTEM: &str = include_str!("../../../prompts/system.md");

/// A rough count (about four characters a token) good enough for a budget.
pub fn tokens(text: &str) -> usize {
    text.chars().count().div_ceil(4)
}

pub fn system(
    today: NaiveDate,
    earliest: NaiveDate,
    accounts: &[(String, String)],
    persona: Option<Persona>,
) -> String {
    let accounts = if accounts.is_empty() {
        "none configured".to_string()
    } else {
        accounts
            .iter()
            .map(|(n, id)| format!("{n} ({id})"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    SYSTEM
        .replace(
            "{today}",
            &today.format("%A %-d %B %Y (%Y-%m-%d)").to_string(),
        )
        .replace("{earliest}", &earliest.to_string())
        .replace("{accounts}", &accounts)
        .replace("{persona}", persona.map(|p| p.prompt()).unwrap_or(""))
        .trim_end()
        .to_string()
}

/// Earlier turns as (question, reply) pairs, oldest first.
pub fn turns(history: &[Message]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut question: Option<&str> = None;
    for m in history {
        match m.role {
            Role::User => question = Some(&m.text),
            Role::Assistant => {
                if let Some(q) = question.take() {
                    out.push((q.to_string(), m.text.clone()));
                }
            }
        }
    }
    out
}

/// The history as messages: the newest turns whole while they fit in
/// `budget` tokens, the ones before as one summary line each (oldest dropped
/// if even those do not fit).
pub fn history(turns: &[(String, String)], budget: usize) -> Vec<ChatMessage> {
    let mut used = 0;
    let mut whole = Vec::new();
    let mut rest = turns.len();
    for (q, a) in turns.iter().rev() {
        let cost = tokens(q) + tokens(a);
        if used + cost > budget {
            break;
        }
        used += cost;
        whole.push((q, a));
        rest -= 1;
    }
    let mut lines = Vec::new();
    for (q, a) in turns[..rest].iter().rev() {
        let line = format!(
            "- asked \"{}\"; answered \"{}\"",
            clip(q, 100),
            clip(first_sentence(a), 120)
        );
        if used + tokens(&line) > budget {
            break;
        }
        used += tokens(&line);
        lines.push(line);
    }
    lines.reverse();
    let mut out = Vec::new();
    if !lines.is_empty() {
        out.push(ChatMessage::system(format!(
            "Earlier in this conversation, in brief:\n{}",
            lines.join("\n")
        )));
    }
    for (q, a) in whole.into_iter().rev() {
        out.push(ChatMessage::user(q.clone()));
        out.push(ChatMessage::assistant(a.clone()));
    }
    out
}

fn first_sentence(s: &str) -> &str {
    match s.find(". ") {
        Some(i) => &s[..=i],
        None => s,
    }
}

fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(max).collect::<String>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newest_turns_whole_older_ones_in_a_line() {
        let turns: Vec<(String, String)> = (1..=5)
            .map(|i| {
                (
                    format!("question {i}"),
                    format!("Answer {i} is long. {}", "x".repeat(200)),
                )
            })
            .collect();
        let msgs = history(&turns, 150);
        // Two whole turns fit (58 tokens each); two more in a line each; the oldest is dropped.
        assert_eq!(msgs.len(), 1 + 4);
        let summary = msgs[0].content.as_deref().unwrap();
        assert_eq!(summary.lines().count(), 1 + 2, "{summary}");
        assert!(summary.contains("- asked \"question 2\"; answered \"Answer 2 is long.\"\n"));
        assert!(!summary.contains("question 1"));
        assert_eq!(msgs[1].content.as_deref(), Some("question 4"));
        assert_eq!(msgs[4].content.as_deref().unwrap().len(), turns[4].1.len());
        assert!(history(&turns, 0).is_empty());
    }
}
