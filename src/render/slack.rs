//! Block Kit for Slack: an [`Answer`] as one or more messages of blocks, each
//! with a plain `text` fallback, within Slack's limits (3,000 characters per
//! section, 10 fields, 50 blocks per message). A long answer is split into
//! several messages at block boundaries; a table is split between whole rows,
//! each part repeating the header, never cut mid-row.

use serde_json::{json, Value};

use crate::agent::{Answer, Table};

pub const MAX_SECTION_CHARS: usize = 3000;
pub const MAX_BLOCKS: usize = 50;
pub const MAX_FIELDS: usize = 10;
pub const MAX_FIELD_CHARS: usize = 2000;
pub const MAX_CONTEXT_ELEMENTS: usize = 10;
pub const MAX_CONTEXT_CHARS: usize = 2000;
pub const MAX_HEADER_CHARS: usize = 150;
pub const MAX_BUTTON_TEXT: usize = 75;
pub const MAX_BUTTON_VALUE: usize = 2000;
pub const MAX_ACTIONS: usize = 25;
/// The notification / fallback text of each message (Slack allows more; people read less).
pub const MAX_FALLBACK_CHARS: usize = 3000;
/// A table cell is shortened to this many characters so any row fits a section.
pub const MAX_CELL_CHARS: usize = 48;

pub const ACTION_FOLLOWUP: &str = "costbot_followup";
pub const ACTION_FEEDBACK_UP: &str = "costbot_feedback_up";
pub const ACTION_FEEDBACK_DOWN: &str = "costbot_feedback_down";

/// One Slack message: blocks and the plain text shown where blocks are not.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub text: String,
    pub blocks: Vec<Value>,
}

/// The buttons under an answer; the channel decides what their values carry.
pub struct Actions<'a> {
    /// The value of a button that asks `question` as a follow-up in the same thread.
    pub followup: &'a dyn Fn(&str) -> String,
    /// The values of the 👍 and 👎 buttons; None when there is nothing to rate.
    pub feedback: Option<(String, String)>,
}

/// The follow-ups offered under a cost answer, as (button, question).
pub const NEXT_STEPS: [(&str, &str); 3] = [
    ("By region", "break that down by region"),
    ("By account", "break that down by account"),
    ("How did you get that?", "how did you get that?"),
];

/// The answer as Slack messages (at least one).
pub fn render(a: &Answer, actions: Option<&Actions<'_>>) -> Vec<Message> {
    let mut blocks = Vec::new();
    answer_blocks(a, &mut blocks);
    if let Some(actions) = actions {
        if let Some(b) = action_block(a, actions) {
            blocks.push(b);
        }
    }
    if blocks.is_empty() {
        blocks.push(section("(no answer)"));
    }
    let parts: Vec<Vec<Value>> = blocks.chunks(MAX_BLOCKS).map(<[Value]>::to_vec).collect();
    let n = parts.len();
    let summary = if a.summary.trim().is_empty() {
        "costbot answer".to_string()
    } else {
        a.summary.clone()
    };
    parts
        .into_iter()
        .enumerate()
        .map(|(i, blocks)| {
            let text = if n == 1 {
                truncate(&summary, MAX_FALLBACK_CHARS)
            } else {
                let suffix = format!(" (part {} of {n})", i + 1);
                format!(
                    "{}{suffix}",
                    truncate(&summary, MAX_FALLBACK_CHARS - suffix.chars().count())
                )
            };
            Message { text, blocks }
        })
        .collect()
}

/// A short message (a placeholder, an error) as one section.
pub fn notice(text: &str) -> Message {
    Message {
        text: truncate(text, MAX_FALLBACK_CHARS),
        blocks: chunk(&escape(text), MAX_SECTION_CHARS)
            .into_iter()
            .map(|t| section(&t))
            .collect(),
    }
}

fn answer_blocks(a: &Answer, out: &mut Vec<Value>) {
    for t in chunk(&escape(&a.summary), MAX_SECTION_CHARS) {
        out.push(section(&t));
    }
    let fields: Vec<Value> = a
        .figures
        .iter()
        .map(|f| {
            let text = format!("*{}*\n{}", escape(&f.label), escape(&f.display));
            json!({"type": "mrkdwn", "text": truncate(&text, MAX_FIELD_CHARS)})
        })
        .collect();
    for group in fields.chunks(MAX_FIELDS) {
        out.push(json!({"type": "section", "fields": group}));
    }
    if let Some(t) = &a.table {
        for code in table_blocks(t) {
            out.push(section(&code));
        }
    }
    if !a.details.is_empty() {
        let text = a
            .details
            .iter()
            .map(|d| escape(d))
            .collect::<Vec<_>>()
            .join("\n");
        for t in chunk(&text, MAX_SECTION_CHARS) {
            out.push(section(&t));
        }
    }
    if !a.citations.is_empty() {
        let lines: Vec<String> = a
            .citations
            .iter()
            .map(|c| {
                let section = c.section.split(" > ").last().unwrap_or(&c.section);
                let label = escape(&format!("{} — {}", c.title, section));
                match &c.source_url {
                    Some(u) if safe_url(u) => format!("• <{}|{}>", u, label.replace('|', "¦")),
                    _ => format!("• {} ({})", label, escape(&c.guide)),
                }
            })
            .collect();
        let text = format!("*Sources*\n{}", lines.join("\n"));
        for t in chunk(&text, MAX_SECTION_CHARS) {
            out.push(section(&t));
        }
    }
    let mut context: Vec<String> = a.notes.iter().map(|n| format!("_{}_", escape(n))).collect();
    if let Some(b) = &a.basis {
        context.push(escape(&b.line()));
    }
    for group in context.chunks(MAX_CONTEXT_ELEMENTS) {
        let elements: Vec<Value> = group
            .iter()
            .map(|t| json!({"type": "mrkdwn", "text": truncate(t, MAX_CONTEXT_CHARS)}))
            .collect();
        out.push(json!({"type": "context", "elements": elements}));
    }
    for s in &a.sections {
        out.push(json!({"type": "divider"}));
        out.push(json!({"type": "header", "text": {"type": "plain_text", "text": truncate(&s.title, MAX_HEADER_CHARS), "emoji": true}}));
        answer_blocks(&s.answer, out);
    }
}

fn action_block(a: &Answer, actions: &Actions<'_>) -> Option<Value> {
    let mut elements = Vec::new();
    let mut questions: Vec<(String, String)> = Vec::new();
    if a.basis.is_some() {
        questions.extend(
            NEXT_STEPS
                .iter()
                .map(|(b, q)| (b.to_string(), q.to_string())),
        );
    }
    for s in a.suggestions.iter().take(3) {
        questions.push((s.clone(), s.clone()));
    }
    for (i, (label, q)) in questions.iter().enumerate() {
        let value = (actions.followup)(q);
        if value.chars().count() > MAX_BUTTON_VALUE {
            continue;
        }
        elements.push(json!({
            "type": "button",
            "action_id": format!("{ACTION_FOLLOWUP}_{i}"),
            "text": {"type": "plain_text", "text": truncate(label, MAX_BUTTON_TEXT), "emoji": true},
            "value": value,
        }));
    }
    if let Some((up, down)) = &actions.feedback {
        for (id, emoji, value) in [
            (ACTION_FEEDBACK_UP, "👍", up),
            (ACTION_FEEDBACK_DOWN, "👎", down),
        ] {
            if value.chars().count() <= MAX_BUTTON_VALUE {
                elements.push(json!({
                    "type": "button",
                    "action_id": id,
                    "text": {"type": "plain_text", "text": emoji, "emoji": true},
                    "value": value,
                }));
            }
        }
    }
    elements.truncate(MAX_ACTIONS);
    (!elements.is_empty())
        .then(|| json!({"type": "actions", "block_id": "costbot_actions", "elements": elements}))
}

fn section(text: &str) -> Value {
    json!({"type": "section", "text": {"type": "mrkdwn", "text": text}})
}

/// The table as aligned code blocks of whole rows, each within a section's limit.
fn table_blocks(t: &Table) -> Vec<String> {
    let columns = t
        .columns
        .len()
        .max(t.rows.iter().map(Vec::len).max().unwrap_or(0));
    let cell = cell_text;
    let header: Vec<String> = (0..columns)
        .map(|i| cell(t.columns.get(i).map(String::as_str).unwrap_or("")))
        .collect();
    let rows: Vec<Vec<(String, bool)>> = t
        .rows
        .iter()
        .map(|r| {
            (0..columns)
                .map(|i| match r.get(i) {
                    Some(c) => (
                        cell(&c.text),
                        c.amount.is_some() || (i > 0 && looks_numeric(&c.text)),
                    ),
                    None => (String::new(), false),
                })
                .collect()
        })
        .collect();
    let widths: Vec<usize> = (0..columns)
        .map(|i| {
            rows.iter()
                .map(|r| r[i].0.chars().count())
                .chain(std::iter::once(header[i].chars().count()))
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: &[(String, bool)]| -> String {
        let padded: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, (c, right))| {
                let pad = widths[i].saturating_sub(c.chars().count());
                if *right {
                    format!("{}{}", " ".repeat(pad), c)
                } else {
                    format!("{}{}", c, " ".repeat(pad))
                }
            })
            .collect();
        escape(padded.join("  ").trim_end())
    };
    let head = line(
        &header
            .iter()
            .map(|h| (h.clone(), false))
            .collect::<Vec<_>>(),
    );
    let rule = "-".repeat(head.chars().count().min(MAX_SECTION_CHARS / 4));
    let mut out = Vec::new();
    let open = |head: &str| format!("```\n{head}\n{rule}\n");
    let mut current = open(&head);
    let mut in_current = 0;
    for r in &rows {
        let l = line(r);
        // +4 for the closing "\n```" ... the block must end within the limit.
        if in_current > 0 && current.chars().count() + l.chars().count() + 1 + 3 > MAX_SECTION_CHARS
        {
            current.push_str("```");
            out.push(std::mem::replace(&mut current, open(&head)));
            in_current = 0;
        }
        current.push_str(&l);
        current.push('\n');
        in_current += 1;
    }
    current.push_str("```");
    out.push(current);
    out
}

/// A cell as it appears in a code block: one line, no backticks to close the
/// block early, at most [`MAX_CELL_CHARS`].
pub fn cell_text(s: &str) -> String {
    let one_line: String = s
        .chars()
        .map(|c| match c {
            '\n' | '\r' | '\t' => ' ',
            '`' => '\'',
            c => c,
        })
        .collect();
    truncate(&one_line, MAX_CELL_CHARS)
}

fn looks_numeric(s: &str) -> bool {
    let t = s.trim_start_matches(['+', '-', '$', '−']);
    t.chars().next().is_some_and(|c| c.is_ascii_digit())
}

/// Links in citations go out as `<url|label>`: only plain http(s) URLs.
fn safe_url(u: &str) -> bool {
    (u.starts_with("https://") || u.starts_with("http://"))
        && !u.contains(['<', '>', '|', ' ', '\n'])
}

/// Slack's mrkdwn control characters, escaped as Slack asks.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// At most `max` characters, with "…" when shortened.
pub fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// Splits text into pieces of at most `max` characters, at line breaks where
/// it can, else at spaces, else anywhere.
pub fn chunk(text: &str, max: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut len = 0;
    let push_piece = |piece: &str, current: &mut String, len: &mut usize, out: &mut Vec<String>| {
        let n = piece.chars().count();
        let sep = usize::from(*len > 0);
        if *len + sep + n > max && *len > 0 {
            out.push(std::mem::take(current));
            *len = 0;
        }
        if *len > 0 {
            current.push('\n');
            *len += 1;
        }
        current.push_str(piece);
        *len += n;
    };
    for line in text.split('\n') {
        if line.chars().count() <= max {
            push_piece(line, &mut current, &mut len, &mut out);
            continue;
        }
        // A line longer than a section: cut at the last space before the limit.
        let mut rest: Vec<char> = line.chars().collect();
        while rest.len() > max {
            let cut = rest[..max]
                .iter()
                .rposition(|c| *c == ' ')
                .filter(|&p| p > 0)
                .unwrap_or(max);
            let piece: String = rest[..cut].iter().collect();
            push_piece(&piece, &mut current, &mut len, &mut out);
            out.push(std::mem::take(&mut current));
            len = 0;
            rest.drain(..cut);
            while rest.first() == Some(&' ') {
                rest.remove(0);
            }
        }
        let piece: String = rest.into_iter().collect();
        push_piece(&piece, &mut current, &mut len, &mut out);
    }
    if len > 0 || out.is_empty() {
        out.push(current);
    }
    out.retain(|s| !s.is_empty());
    if out.is_empty() {
        out.push(" ".into());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::answer::{Basis, Citation, Section};
    use crate::agent::Cell;
    use rust_decimal::Decimal;

    /// A tiny deterministic generator (xorshift), so failures reproduce by seed.
    struct Gen(u64);
    impl Gen {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n.max(1)
        }
        fn text(&mut self, max_chars: u64) -> String {
            let words = [
                "EC2",
                "spend",
                "went",
                "up",
                "<b>",
                "&",
                "us-east-1",
                "Savings Plans",
                "é",
                "🚀",
                "\n",
                "rightsizing",
                "x".repeat(40).leak(),
            ];
            let n = self.below(max_chars / 4 + 1);
            let mut s = String::new();
            for _ in 0..n {
                s.push_str(words[self.below(words.len() as u64) as usize]);
                s.push(' ');
                if s.chars().count() as u64 >= max_chars {
                    break;
                }
            }
            s
        }
    }

    fn basis() -> Basis {
        Basis {
            period: "9–15 November 2026".into(),
            start: chrono::NaiveDate::from_ymd_opt(2026, 11, 9).unwrap(),
            end_inclusive: chrono::NaiveDate::from_ymd_opt(2026, 11, 15).unwrap(),
            compared_with: Some("2–8 November 2026".into()),
            metric: "unblended cost".into(),
            credits_refunds_excluded: true,
            credits_apply: true,
            source: "AWS Cost Explorer".into(),
            sample_data: false,
            estimated: false,
            cached: false,
        }
    }

    fn answer(g: &mut Gen, depth: u32) -> Answer {
        let long = if g.below(4) == 0 { 9000 } else { 300 };
        let mut a = Answer {
            summary: g.text(long),
            ..Default::default()
        };
        for i in 0..g.below(25) {
            a.figure(
                format!("figure {i} {}", g.text(30)),
                Decimal::new(g.next() as i64 % 10_000_000, 2),
                "USD",
            );
        }
        if g.below(3) > 0 {
            let cols = 1 + g.below(6) as usize;
            let most = if g.below(3) == 0 { 2000 } else { 60 };
            let rows = g.below(most) as usize;
            a.table = Some(Table {
                columns: (0..cols)
                    .map(|i| format!("col{i} {}", g.text(20)))
                    .collect(),
                rows: (0..rows)
                    .map(|r| {
                        (0..cols)
                            .map(|c| {
                                if c == 0 {
                                    Cell::text(format!("row-{r}: {}", g.text(90)))
                                } else {
                                    Cell::money(
                                        Decimal::new(g.next() as i64 % 1_000_000_000, 2),
                                        "USD",
                                    )
                                }
                            })
                            .collect()
                    })
                    .collect(),
            });
        }
        for _ in 0..g.below(30) {
            a.details.push(g.text(600));
        }
        for i in 0..g.below(15) {
            a.citations.push(Citation {
                title: format!("Guide {i} {}", g.text(40)),
                section: "A > B".into(),
                guide: format!("g{i}.md"),
                source_url: (i % 2 == 0).then(|| format!("https://docs.aws.amazon.com/g{i}")),
            });
        }
        for _ in 0..g.below(15) {
            a.notes.push(g.text(2500));
        }
        if g.below(2) == 0 {
            a.basis = Some(basis());
        }
        for _ in 0..g.below(4) {
            a.suggestions.push(g.text(120));
        }
        if depth == 0 {
            for i in 0..g.below(4) {
                a.sections.push(Section {
                    title: format!("Section {i} {}", g.text(300)),
                    answer: answer(g, 1),
                });
            }
        }
        a
    }

    fn text_of(block: &Value) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(t) = block["text"]["text"].as_str() {
            out.push(t.to_string());
        }
        for key in ["fields", "elements"] {
            for e in block[key].as_array().into_iter().flatten() {
                if let Some(t) = e["text"].as_str() {
                    out.push(t.to_string());
                }
            }
        }
        out
    }

    fn check_limits(messages: &[Message]) {
        assert!(!messages.is_empty());
        let last = messages.len() - 1;
        for (i, m) in messages.iter().enumerate() {
            assert!(!m.text.trim().is_empty(), "every message has a fallback");
            assert!(m.text.chars().count() <= MAX_FALLBACK_CHARS);
            assert!(
                !m.blocks.is_empty() && m.blocks.len() <= MAX_BLOCKS,
                "{} blocks",
                m.blocks.len()
            );
            for b in &m.blocks {
                match b["type"].as_str().unwrap() {
                    "section" => {
                        if let Some(t) = b["text"]["text"].as_str() {
                            assert!(
                                !t.is_empty() && t.chars().count() <= MAX_SECTION_CHARS,
                                "{}",
                                t.chars().count()
                            );
                            // Code blocks are whole: opened and closed in the same section.
                            assert_eq!(t.matches("```").count() % 2, 0, "{t}");
                        }
                        if let Some(f) = b["fields"].as_array() {
                            assert!(!f.is_empty() && f.len() <= MAX_FIELDS);
                            assert!(f
                                .iter()
                                .all(|x| x["text"].as_str().unwrap().chars().count()
                                    <= MAX_FIELD_CHARS));
                        }
                    }
                    "context" => {
                        let e = b["elements"].as_array().unwrap();
                        assert!(!e.is_empty() && e.len() <= MAX_CONTEXT_ELEMENTS);
                        assert!(e
                            .iter()
                            .all(|x| x["text"].as_str().unwrap().chars().count()
                                <= MAX_CONTEXT_CHARS));
                    }
                    "header" => assert!(
                        b["text"]["text"].as_str().unwrap().chars().count() <= MAX_HEADER_CHARS
                    ),
                    "actions" => {
                        assert_eq!(i, last, "buttons come last");
                        let e = b["elements"].as_array().unwrap();
                        assert!(e.len() <= MAX_ACTIONS);
                        for x in e {
                            assert!(
                                x["text"]["text"].as_str().unwrap().chars().count()
                                    <= MAX_BUTTON_TEXT
                            );
                            assert!(
                                x["value"].as_str().unwrap().chars().count() <= MAX_BUTTON_VALUE
                            );
                        }
                    }
                    "divider" => {}
                    other => panic!("unexpected block {other}"),
                }
            }
        }
    }

    #[test]
    fn answers_of_any_size_stay_within_slacks_limits() {
        let followup = |q: &str| {
            format!(
                "{{\"k\":\"slack:T1:C1:1.2\",\"q\":{}}}",
                serde_json::json!(q)
            )
        };
        let actions = Actions {
            followup: &followup,
            feedback: Some(("up".into(), "down".into())),
        };
        let mut longest = 0;
        for seed in 1..=120u64 {
            let mut g = Gen(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
            let a = answer(&mut g, 0);
            let messages = render(&a, Some(&actions));
            check_limits(&messages);
            longest = longest.max(messages.len());
            // Every row of the table is there, whole, exactly once.
            if let Some(t) = &a.table {
                let all: String = messages
                    .iter()
                    .flat_map(|m| m.blocks.iter().flat_map(text_of))
                    .collect::<Vec<_>>()
                    .join("\n");
                for (r, row) in t.rows.iter().enumerate() {
                    let key = escape(cell_text(&row[0].text).trim_end());
                    let tag = format!("row-{r}:");
                    assert!(key.starts_with(&tag));
                    assert!(all.contains(&key), "seed {seed}: row {r} missing");
                    if let Some(last) = row.last().filter(|_| row.len() > 1) {
                        let line = all.lines().find(|l| l.starts_with(&key)).unwrap();
                        assert!(line.ends_with(&escape(&last.text)), "seed {seed}: {line}");
                    }
                }
            }
        }
        assert!(
            longest > 1,
            "the generator makes answers that need several messages"
        );
    }

    #[test]
    fn a_cost_answer_has_fields_a_table_sources_basis_and_buttons() {
        let mut a = Answer {
            summary: "EC2 spend went up by $120.00 <fast> & more.".into(),
            basis: Some(basis()),
            ..Default::default()
        };
        a.figure("This week", Decimal::new(123456, 2), "USD");
        a.table = Some(Table {
            columns: vec!["service".into(), "cost".into()],
            rows: vec![
                vec![
                    Cell::text("EC2"),
                    Cell::money(Decimal::new(100000, 2), "USD"),
                ],
                vec![Cell::text("S3"), Cell::money(Decimal::new(500, 2), "USD")],
            ],
        });
        a.citations.push(Citation {
            title: "Rightsizing".into(),
            section: "EC2 > Sizes".into(),
            guide: "ec2.md".into(),
            source_url: Some("https://docs.aws.amazon.com/x".into()),
        });
        let followup = |q: &str| format!("Q:{q}");
        let m = render(
            &a,
            Some(&Actions {
                followup: &followup,
                feedback: Some(("u".into(), "d".into())),
            }),
        );
        assert_eq!(m.len(), 1);
        let b = &m[0].blocks;
        assert_eq!(m[0].text, a.summary);
        assert_eq!(
            b[0]["text"]["text"],
            "EC2 spend went up by $120.00 &lt;fast&gt; &amp; more."
        );
        assert_eq!(b[1]["fields"][0]["text"], "*This week*\n$1,234.56");
        let table = b[2]["text"]["text"].as_str().unwrap();
        assert!(
            table.contains("EC2      $1,000.00\nS3           $5.00"),
            "{table}"
        );
        assert!(b[3]["text"]["text"]
            .as_str()
            .unwrap()
            .contains("<https://docs.aws.amazon.com/x|Rightsizing — Sizes>"));
        assert!(b[4]["elements"][0]["text"]
            .as_str()
            .unwrap()
            .starts_with("Basis: 9–15 November 2026 vs 2–8 November 2026"));
        let buttons = b[5]["elements"].as_array().unwrap();
        assert_eq!(buttons[0]["value"], "Q:break that down by region");
        assert_eq!(buttons[2]["text"]["text"], "How did you get that?");
        assert_eq!(buttons[3]["action_id"], ACTION_FEEDBACK_UP);
        // The blocks are what slack-morphism's Block Kit model reads.
        let typed: Vec<slack_morphism::prelude::SlackBlock> =
            serde_json::from_value(Value::Array(b.clone())).unwrap();
        assert_eq!(typed.len(), b.len());
    }

    #[test]
    fn chunks_split_at_lines_then_spaces() {
        assert_eq!(chunk("a\nb", 3), vec!["a\nb"]);
        assert_eq!(chunk("aa\nbb", 3), vec!["aa", "bb"]);
        assert_eq!(chunk("aaaa bbbb", 5), vec!["aaaa", "bbbb"]);
        assert_eq!(chunk("abcdefgh", 3), vec!["abc", "def", "gh"]);
        assert_eq!(chunk("", 3), vec![" "]);
        assert_eq!(truncate("abcdef", 4), "abc…");
    }
}
