//! What a channel hands the Agent for one turn: which conversation, who may
//! see it, who wrote this turn, and the turn's own "today".

use chrono::NaiveDate;

/// How a channel names the conversation a turn belongs to. Only the Agent
/// creates conversation ids; a channel either names one it was given, or a
/// key of its own (a Slack thread) that the store maps to an id.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ConversationKey {
    /// Start a new conversation.
    New,
    /// Continue the conversation with this id (as an earlier answer named it).
    Id(String),
    /// The channel's own key, e.g. `slack:T1:C2:1700000000.000100`: the first
    /// turn under it starts a conversation, later turns continue it.
    Channel(String),
}

impl ConversationKey {
    /// `Id` when given a non-blank id, `New` otherwise.
    pub fn from_optional_id(id: Option<String>) -> Self {
        match id {
            Some(id) if !id.trim().is_empty() => ConversationKey::Id(id),
            _ => ConversationKey::New,
        }
    }
}

/// The turn's own clock: a digest runs at 09:00 in Paris, a user asks from Tokyo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TurnClock {
    /// "Today" for this turn, in its time zone.
    pub today: NaiveDate,
    /// IANA name, for people ("Asia/Tokyo").
    pub timezone: chrono_tz::Tz,
}

/// A question from any channel.
#[derive(Debug, Clone)]
pub struct Inquiry {
    pub conversation: ConversationKey,
    /// Who may see the conversation: a webhook token's owner
    /// (`webhook:<name>`), a Slack workspace (`slack:T123`), `cli`.
    pub scope: String,
    /// Who wrote this turn (many people write in one Slack thread).
    pub author: String,
    /// Which surface it came from ("cli", "webhook", "slack", ...).
    pub channel: String,
    pub text: String,
    /// The turn's "today"; the Agent's own clock when None.
    pub clock: Option<TurnClock>,
}

impl Inquiry {
    /// A turn whose scope and author are the same (CLI, webhook).
    pub fn new(
        conversation: ConversationKey,
        caller: impl Into<String>,
        channel: impl Into<String>,
        text: impl Into<String>,
    ) -> Self {
        let caller = caller.into();
        Inquiry {
            conversation,
            scope: caller.clone(),
            author: caller,
            channel: channel.into(),
            text: text.into(),
            clock: None,
        }
    }
}
