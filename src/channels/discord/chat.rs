//! Chat over the gateway: a message that mentions costbot in a guild channel
//! or thread, or any message in a DM with it, is a question. costbot shows
//! "typing…" while it works and replies in the same channel, referencing
//! the question; a long answer follows in further messages.
//!
//! Messages from bots (costbot included) and webhooks are never answered, so
//! two bots cannot talk to each other forever.

use serenity::all::{Message, MessageType};

use super::{DiscordState, Place, ANSWER_DEADLINE, MAX_TEXT_CHARS};
use crate::render::discord::{self as render};

/// How often "typing…" is renewed while an answer takes (Discord shows it
/// for ten seconds).
const TYPING_EVERY: std::time::Duration = std::time::Duration::from_secs(8);

pub const HELP: &str = "Mention me with a question about your AWS bill, for example:\n\
• `@costbot why did EC2 go up last week?`\n\
• `@costbot top 5 services this month`\n\
Follow up the same way in this channel (`@costbot and S3?`), or use `/cost ask`.";

/// A question someone asked costbot in a channel or DM.
#[derive(Debug, Clone, PartialEq)]
pub struct Asked {
    pub place: Place,
    /// The message asking, which the answer replies to.
    pub message: u64,
    /// The text, without the mention of costbot.
    pub text: String,
}

/// The question in `message`, when it is one for costbot (user id `me`): a
/// mention in a guild, anything in a DM; never a bot's or a webhook's.
pub fn question(message: &Message, me: u64) -> Option<Asked> {
    if message.author.bot || message.webhook_id.is_some() || message.author.id.get() == me {
        return None;
    }
    if !matches!(
        message.kind,
        MessageType::Regular | MessageType::InlineReply
    ) {
        return None;
    }
    let guild = message.guild_id.map(|g| g.get());
    // A reply to costbot's message mentions it too (unless the asker turned the ping off).
    if guild.is_some() && !message.mentions.iter().any(|u| u.id.get() == me) {
        return None;
    }
    Some(Asked {
        place: Place {
            guild,
            channel: message.channel_id.get(),
            user: message.author.id.get(),
            private_channel: false,
        },
        message: message.id.get(),
        text: without_mention(&message.content, me),
    })
}

/// `text` without costbot's mentions (`<@id>`, and the older `<@!id>`).
pub fn without_mention(text: &str, me: u64) -> String {
    let out = text
        .replace(&format!("<@{me}>"), " ")
        .replace(&format!("<@!{me}>"), " ");
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

impl DiscordState {
    /// Answers `asked` in its channel: "typing…" first, then the answer as
    /// a reply. The answer runs on the answers' runtime; this returns once it
    /// has started (or, for a mention without a question, once the help is posted).
    pub(super) async fn chat(&self, asked: Asked) {
        if asked.text.is_empty() {
            return self.post(&asked, &[render::notice(HELP)]).await;
        }
        if asked.text.chars().count() > MAX_TEXT_CHARS {
            let too_long = format!(
                "That question is longer than {MAX_TEXT_CHARS} characters; ask it more briefly."
            );
            return self.post(&asked, &[render::notice(&too_long)]).await;
        }
        let this = self.clone();
        super::super::spawn_answer(&self.inner.tasks, "discord-chat", async move {
            let channel = asked.place.channel;
            let turn = asked.place.turn(&asked.text);
            // "typing…" and the answer start together; the reply waits for the first.
            let typing = async {
                if let Err(e) = this.rest().typing(channel).await {
                    tracing::debug!(error = %e, "Discord did not show typing");
                }
            };
            let answer = async {
                let answer = tokio::time::timeout(ANSWER_DEADLINE, this.answer(&turn, None));
                tokio::pin!(answer);
                loop {
                    tokio::select! {
                        done = &mut answer => break done.unwrap_or_else(|_| {
                            tracing::warn!("a Discord answer took longer than 14 minutes");
                            vec![render::notice("⚠️ That took too long to answer; try a narrower question.")]
                        }),
                        _ = tokio::time::sleep(TYPING_EVERY) => {
                            let _ = this.rest().typing(channel).await;
                        }
                    }
                }
            };
            let ((), messages) = tokio::join!(typing, answer);
            this.post(&asked, &messages).await;
        });
    }

    /// Posts `messages` in the asked channel, the first as a reply to the question.
    async fn post(&self, asked: &Asked, messages: &[render::Message]) {
        for (i, m) in messages.iter().enumerate() {
            let reply_to = (i == 0).then_some(asked.message);
            let sent = self
                .rest()
                .send(asked.place.channel, asked.place.guild, m, reply_to)
                .await;
            if let Err(e) = sent {
                // Missing permissions or a deleted channel: later parts would fail too.
                tracing::warn!(error = %e, part = i + 1, of = messages.len(), "a Discord reply was not delivered");
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn message(guild: bool, author_bot: bool, content: &str, mentions: &[u64]) -> Message {
        let user = |id: u64, bot: bool| json!({"id": id.to_string(), "username": "u", "discriminator": "0", "global_name": null, "avatar": null, "bot": bot});
        let mut v = json!({
            "id": "900", "channel_id": "20", "author": user(30, author_bot), "content": content,
            "timestamp": "2026-11-19T10:00:00.000000+00:00", "edited_timestamp": null, "tts": false,
            "mention_everyone": false, "mentions": mentions.iter().map(|&m| user(m, m == 5)).collect::<Vec<_>>(),
            "mention_roles": [], "attachments": [], "embeds": [], "pinned": false, "type": 0, "flags": 0
        });
        if guild {
            v["guild_id"] = json!("10");
        }
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn mentions_in_guilds_and_any_dm_are_questions_bots_never() {
        let me = 5;
        let asked = question(&message(true, false, "<@5> spend  yesterday?", &[5]), me).unwrap();
        assert_eq!(asked.text, "spend yesterday?");
        assert_eq!(asked.message, 900);
        assert_eq!(asked.place.key(), "discord:10:20");
        assert_eq!(
            asked.place.turn(&asked.text).author,
            "discord:user:30".to_string()
        );
        assert!(
            question(&message(true, false, "spend yesterday?", &[]), me).is_none(),
            "not addressed to costbot"
        );
        assert!(question(&message(true, false, "<@6> spend?", &[6]), me).is_none());
        assert!(question(&message(true, true, "<@5> spend?", &[5]), me).is_none());
        let dm = question(&message(false, false, "spend yesterday", &[]), me).unwrap();
        assert_eq!(dm.place.key(), "discord:dm:30");
        assert!(question(&message(false, true, "spend yesterday", &[]), me).is_none());
        assert_eq!(without_mention("<@!5>and S3? <@5>", 5), "and S3?");
        assert_eq!(without_mention("<@5>", 5), "");
    }
}
