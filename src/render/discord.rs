//! Discord: an [`Answer`] as one or more messages of content, embeds and
//! buttons, within Discord's limits: 2,000 characters of content; per embed a
//! 256-character title, a 4,096-character description, 25 fields (256 / 1,024
//! per name / value) and a 2,048-character footer; 10 embeds per message and
//! 6,000 characters over all of a message's embeds; 5 rows of 5 buttons, each
//! with an 80-character label and a 100-character custom id.
//!
//! A long answer is split into several messages between embeds; a table is
//! split between whole rows, each part a complete code block repeating the
//! header. Lengths are counted in UTF-16 units, which is never less than
//! Discord's count, so an emoji cannot push a part over a limit.
//!
//! The types here are costbot's own (no SDK): the Discord channel turns them
//! into serenity's builders.

use crate::agent::{Answer, Table};

pub const MAX_CONTENT: usize = 2000;
pub const MAX_EMBEDS: usize = 10;
/// Over all embeds of one message: titles, descriptions, field names and
/// values, footers.
pub const MAX_EMBED_TOTAL: usize = 6000;
pub const MAX_TITLE: usize = 256;
pub const MAX_DESCRIPTION: usize = 4096;
pub const MAX_FIELDS: usize = 25;
pub const MAX_FIELD_NAME: usize = 256;
pub const MAX_FIELD_VALUE: usize = 1024;
/// Discord allows 2,048; a quarter of that keeps any one embed under the
/// message total with a full description and title beside it.
pub const MAX_FOOTER: usize = 1024;
pub const MAX_BUTTONS_PER_ROW: usize = 5;
pub const MAX_ROWS: usize = 5;
pub const MAX_BUTTON_LABEL: usize = 80;
pub const MAX_CUSTOM_ID: usize = 100;
/// A table cell is shortened to this many characters so rows stay readable.
pub const MAX_CELL_CHARS: usize = 48;
/// The question heading a follow-up's answer.
pub const MAX_HEADING: usize = 200;

/// A button's custom id: this prefix and the follow-up question it asks.
pub const FOLLOWUP_PREFIX: &str = "costbot:q:";

/// The side stripe of costbot's embeds.
pub const COLOR: u32 = 0xFF9900;

/// One Discord message.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Message {
    /// May be empty when there are embeds.
    pub content: String,
    pub embeds: Vec<Embed>,
    /// Shown in rows of [`MAX_BUTTONS_PER_ROW`].
    pub buttons: Vec<Button>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Embed {
    pub title: Option<String>,
    pub description: Option<String>,
    pub fields: Vec<Field>,
    pub footer: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub name: String,
    pub value: String,
    pub inline: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Button {
    pub label: String,
    pub custom_id: String,
}

impl Embed {
    /// The characters Discord counts toward a message's 6,000.
    pub fn total(&self) -> usize {
        self.title.as_deref().map_or(0, units)
            + self.description.as_deref().map_or(0, units)
            + self
                .fields
                .iter()
                .map(|f| units(&f.name) + units(&f.value))
                .sum::<usize>()
            + self.footer.as_deref().map_or(0, units)
    }

    fn is_empty(&self) -> bool {
        self.title.is_none()
            && self.description.is_none()
            && self.fields.is_empty()
            && self.footer.is_none()
    }
}

impl Message {
    /// The buttons as action rows.
    pub fn rows(&self) -> impl Iterator<Item = &[Button]> {
        self.buttons.chunks(MAX_BUTTONS_PER_ROW)
    }
}

/// The question a follow-up button asks, from its custom id.
pub fn followup_question(custom_id: &str) -> Option<&str> {
    custom_id
        .strip_prefix(FOLLOWUP_PREFIX)
        .map(str::trim)
        .filter(|q| !q.is_empty())
}

/// The answer as Discord messages (at least one). `heading` is the question
/// shown above the answer when Discord does not show it itself (a button's
/// follow-up); buttons go on the last message.
pub fn render(a: &Answer, heading: Option<&str>) -> Vec<Message> {
    let heading = heading
        .map(|h| format!("**{}**", escape(&truncate(h.trim(), MAX_HEADING))))
        .filter(|h| h != "****");
    let summary = escape(a.summary.trim());
    let mut embeds = Vec::new();
    let with_summary = match &heading {
        Some(h) if !summary.is_empty() => format!("{h}\n{summary}"),
        Some(h) => h.clone(),
        None => summary.clone(),
    };
    // The summary is the content when it fits, else the first embeds.
    let content = if units(&with_summary) <= MAX_CONTENT {
        with_summary
    } else {
        text_embeds(None, &summary, &mut embeds);
        heading.unwrap_or_default()
    };
    answer_embeds(a, &mut embeds);
    for s in &a.sections {
        let start = embeds.len();
        text_embeds(None, &escape(&s.answer.summary), &mut embeds);
        answer_embeds(&s.answer, &mut embeds);
        let title = non_empty(truncate(&escape(s.title.trim()), MAX_TITLE));
        match embeds.get_mut(start) {
            Some(e) if e.title.is_none() && e.total() + units(&title) <= MAX_EMBED_TOTAL => {
                e.title = Some(title)
            }
            _ => embeds.insert(
                start,
                Embed {
                    title: Some(title),
                    ..Default::default()
                },
            ),
        }
    }
    let mut messages = pack(content, embeds);
    if let Some(last) = messages.last_mut() {
        last.buttons = buttons(a);
    }
    messages
}

/// A short message (a notice, an error) as content alone, cut to fit.
pub fn notice(text: &str) -> Message {
    Message {
        content: truncate(text, MAX_CONTENT),
        ..Default::default()
    }
}

/// Figures, table, details, sources and notes, then the basis in a footer.
fn answer_embeds(a: &Answer, out: &mut Vec<Embed>) {
    let start = out.len();
    let fields: Vec<Field> = a
        .figures
        .iter()
        .map(|f| Field {
            name: non_empty(truncate(&escape(&f.label), MAX_FIELD_NAME)),
            value: non_empty(truncate(&escape(&f.display), MAX_FIELD_VALUE)),
            inline: true,
        })
        .collect();
    let mut current = Embed::default();
    for f in fields {
        let size = units(&f.name) + units(&f.value);
        if current.fields.len() == MAX_FIELDS || current.total() + size > MAX_EMBED_TOTAL {
            out.push(std::mem::take(&mut current));
        }
        current.fields.push(f);
    }
    if !current.is_empty() {
        out.push(current);
    }
    if let Some(t) = &a.table {
        for block in table_blocks(t) {
            out.push(Embed {
                description: Some(block),
                ..Default::default()
            });
        }
    }
    let details: Vec<String> = a.details.iter().map(|d| escape(d)).collect();
    text_embeds(None, &details.join("\n"), out);
    if !a.citations.is_empty() {
        let lines: Vec<String> = a
            .citations
            .iter()
            .map(|c| {
                let section = c.section.split(" > ").last().unwrap_or(&c.section);
                let label = escape(&format!("{} — {}", c.title, section));
                match &c.source_url {
                    Some(u) if safe_url(u) => format!("• [{label}]({u})"),
                    _ => format!("• {label} ({})", escape(&c.guide)),
                }
            })
            .collect();
        text_embeds(Some("Sources"), &lines.join("\n"), out);
    }
    let notes: Vec<String> = a
        .notes
        .iter()
        .map(|n| format!("_{}_", escape(n.trim())))
        .collect();
    text_embeds(None, &notes.join("\n"), out);
    if let Some(b) = &a.basis {
        let footer = truncate(&b.line(), MAX_FOOTER);
        let own = out.len() > start;
        match out.last_mut() {
            Some(e)
                if own && e.footer.is_none() && e.total() + units(&footer) <= MAX_EMBED_TOTAL =>
            {
                e.footer = Some(footer)
            }
            _ => out.push(Embed {
                footer: Some(footer),
                ..Default::default()
            }),
        }
    }
}

/// Text as description embeds of at most [`MAX_DESCRIPTION`] each; the first
/// one carries `title`. Nothing for blank text.
fn text_embeds(title: Option<&str>, text: &str, out: &mut Vec<Embed>) {
    for (i, piece) in chunk(text, MAX_DESCRIPTION).into_iter().enumerate() {
        out.push(Embed {
            title: title.filter(|_| i == 0).map(str::to_string),
            description: Some(piece),
            ..Default::default()
        });
    }
}

/// Embeds into messages: at most 10 and 6,000 characters each; the content
/// goes on the first.
fn pack(content: String, embeds: Vec<Embed>) -> Vec<Message> {
    let mut messages = vec![Message {
        content,
        ..Default::default()
    }];
    let mut total = 0;
    for e in embeds {
        let current = messages.last_mut().expect("one message at least");
        if current.embeds.len() == MAX_EMBEDS || total + e.total() > MAX_EMBED_TOTAL {
            messages.push(Message::default());
            total = 0;
        }
        total += e.total();
        messages.last_mut().expect("just pushed").embeds.push(e);
    }
    // A message needs something to show.
    if messages[0].content.trim().is_empty() && messages[0].embeds.is_empty() {
        messages[0].content = "(no answer)".into();
    }
    messages
}

/// The follow-ups offered under an answer: the next steps of a cost answer,
/// then up to three of its suggestions, each only when its question fits a
/// custom id. No two buttons ask the same.
fn buttons(a: &Answer) -> Vec<Button> {
    let mut questions: Vec<(String, String)> = Vec::new();
    if a.basis.is_some() {
        questions.extend(
            super::slack::NEXT_STEPS
                .iter()
                .map(|(b, q)| (b.to_string(), q.to_string())),
        );
    }
    for s in a.suggestions.iter().take(3) {
        questions.push((s.clone(), s.clone()));
    }
    let mut out: Vec<Button> = Vec::new();
    for (label, q) in questions {
        let q = q.trim();
        let custom_id = format!("{FOLLOWUP_PREFIX}{q}");
        if q.is_empty()
            || units(&custom_id) > MAX_CUSTOM_ID
            || out.iter().any(|b| b.custom_id == custom_id)
        {
            continue;
        }
        out.push(Button {
            label: non_empty(truncate(label.trim(), MAX_BUTTON_LABEL)),
            custom_id,
        });
    }
    out.truncate(MAX_BUTTONS_PER_ROW * MAX_ROWS);
    out
}

/// The table as code blocks of whole rows, each within a description.
fn table_blocks(t: &Table) -> Vec<String> {
    let columns = t
        .columns
        .len()
        .max(t.rows.iter().map(Vec::len).max().unwrap_or(0));
    let header: Vec<String> = (0..columns)
        .map(|i| cell_text(t.columns.get(i).map(String::as_str).unwrap_or("")))
        .collect();
    let rows: Vec<Vec<(String, bool)>> = t
        .rows
        .iter()
        .map(|r| {
            (0..columns)
                .map(|i| match r.get(i) {
                    Some(c) => (
                        cell_text(&c.text),
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
    // "```\n" + head + "\n" + rule + "\n" ... "```": a row must fit beside them.
    let max_line = MAX_DESCRIPTION / 4;
    let line = |cells: &[(String, bool)]| -> String {
        let padded: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, (c, right))| {
                let pad = " ".repeat(widths[i].saturating_sub(c.chars().count()));
                if *right {
                    format!("{pad}{c}")
                } else {
                    format!("{c}{pad}")
                }
            })
            .collect();
        truncate(padded.join("  ").trim_end(), max_line)
    };
    let head = line(
        &header
            .iter()
            .map(|h| (h.clone(), false))
            .collect::<Vec<_>>(),
    );
    let rule = "-".repeat(head.chars().count().clamp(1, max_line));
    let open = format!("```\n{head}\n{rule}\n");
    let mut out = Vec::new();
    let mut current = open.clone();
    let mut len = units(&open);
    let mut in_current = 0;
    for r in &rows {
        let l = line(r);
        let n = units(&l) + 1;
        // +3 for the closing "```": the block must end within the limit.
        if in_current > 0 && len + n + 3 > MAX_DESCRIPTION {
            current.push_str("```");
            out.push(std::mem::replace(&mut current, open.clone()));
            len = units(&open);
            in_current = 0;
        }
        current.push_str(&l);
        current.push('\n');
        len += n;
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

/// Links in citations go out as `[label](url)`: only plain http(s) URLs that
/// cannot end the link early.
fn safe_url(u: &str) -> bool {
    (u.starts_with("https://") || u.starts_with("http://"))
        && !u.contains(['(', ')', '<', '>', ' ', '\n', '[', ']'])
}

/// Text shown as text, not as Discord markdown: emphasis, code, spoilers,
/// links, and quotes, headings and lists at the start of a line.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for line in s.split_inclusive('\n') {
        let body = line.trim_start_matches(' ');
        out.push_str(&line[..line.len() - body.len()]);
        if body.starts_with(['>', '#', '-']) {
            out.push('\\');
        }
        for c in body.chars() {
            if matches!(c, '\\' | '*' | '_' | '~' | '`' | '|' | '[' | ']') {
                out.push('\\');
            }
            out.push(c);
        }
    }
    out
}

/// Length as Discord may count it (UTF-16 units; never less than characters).
pub fn units(s: &str) -> usize {
    s.encode_utf16().count()
}

/// At most `max` UTF-16 units, with "…" when shortened.
pub fn truncate(s: &str, max: usize) -> String {
    if units(s) <= max {
        return s.to_string();
    }
    let mut out = String::new();
    let mut n = 0;
    for c in s.chars() {
        if n + c.len_utf16() + 1 > max {
            break;
        }
        out.push(c);
        n += c.len_utf16();
    }
    out.push('…');
    out
}

/// Discord refuses an empty field name, field value or label.
fn non_empty(s: String) -> String {
    if s.trim().is_empty() {
        "\u{200b}".into()
    } else {
        s
    }
}

/// Splits text into pieces of at most `max` units, at line breaks where it
/// can, else at spaces, else anywhere. Blank pieces are dropped.
pub fn chunk(text: &str, max: usize) -> Vec<String> {
    let mut lines: Vec<&str> = Vec::new();
    for line in text.split('\n') {
        let mut rest = line;
        while units(rest) > max {
            let (mut cut, mut n, mut space) = (0, 0, None);
            for (i, c) in rest.char_indices() {
                if n + c.len_utf16() > max {
                    break;
                }
                n += c.len_utf16();
                cut = i + c.len_utf8();
                if c == ' ' && i > 0 {
                    space = Some(i);
                }
            }
            let cut = space.unwrap_or(cut);
            lines.push(&rest[..cut]);
            rest = rest[cut..].trim_start_matches(' ');
        }
        lines.push(rest);
    }
    let mut out = Vec::new();
    let mut current = String::new();
    let mut len = 0;
    let mut started = false;
    for l in lines {
        let n = units(l);
        if started && len + 1 + n > max {
            out.push(std::mem::take(&mut current));
            len = 0;
            started = false;
        }
        if started {
            current.push('\n');
            len += 1;
        }
        current.push_str(l);
        len += n;
        started = true;
    }
    if started {
        out.push(current);
    }
    out.retain(|s| !s.trim().is_empty());
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
        /// An id for a table, so rows of two tables never look alike.
        fn tag(&mut self) -> String {
            format!("t{:08x}", self.next() as u32)
        }
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n.max(1)
        }
        fn text(&mut self, max_units: u64) -> String {
            let words = [
                "EC2",
                "spend",
                "went",
                "up",
                "*bold*",
                "_x_",
                "`code`",
                "```",
                "> quote",
                "# head",
                "[link](https://x)",
                "us-east-1",
                "é",
                "🚀",
                "👍🏽",
                "\n",
                "@everyone",
                "rightsizing",
                "x".repeat(70).leak(),
            ];
            let n = self.below(max_units / 4 + 1);
            let (mut s, mut len) = (String::new(), 0);
            for _ in 0..n {
                let w = words[self.below(words.len() as u64) as usize];
                s.push_str(w);
                s.push(' ');
                len += units(w) + 1;
                if len as u64 >= max_units {
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
        let long = match g.below(5) {
            0 => 12000,
            1 => 2100,
            _ => 300,
        };
        let mut a = Answer {
            summary: g.text(long),
            ..Default::default()
        };
        let figures = if g.below(4) == 0 { 80 } else { 8 };
        for i in 0..g.below(figures) {
            let label_len = if g.below(5) == 0 { 400 } else { 30 };
            a.figure(
                format!("figure {i} {}", g.text(label_len)),
                Decimal::new(g.next() as i64 % 10_000_000, 2),
                "USD",
            );
        }
        if g.below(3) > 0 {
            let cols = 1 + g.below(6) as usize;
            let most = if g.below(3) == 0 { 2000 } else { 60 };
            let rows = g.below(most) as usize;
            let tag = g.tag();
            a.table = Some(Table {
                columns: (0..cols)
                    .map(|i| format!("col{i} {}", g.text(20)))
                    .collect(),
                rows: (0..rows)
                    .map(|r| {
                        (0..cols)
                            .map(|c| {
                                if c == 0 {
                                    Cell::text(format!("{tag}-row-{r}: {}", g.text(90)))
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
            a.details.push(g.text(900));
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
        for _ in 0..g.below(5) {
            let len = if g.below(2) == 0 { 200 } else { 60 };
            a.suggestions.push(g.text(len));
        }
        if depth == 0 {
            for i in 0..g.below(4) {
                a.sections.push(Section {
                    title: format!("Section {i} {}", g.text(400)),
                    answer: answer(g, 1),
                });
            }
        }
        a
    }

    fn check_limits(messages: &[Message]) {
        assert!(!messages.is_empty());
        let last = messages.len() - 1;
        for (i, m) in messages.iter().enumerate() {
            assert!(
                units(&m.content) <= MAX_CONTENT,
                "content {}",
                units(&m.content)
            );
            assert!(
                !m.content.trim().is_empty() || !m.embeds.is_empty(),
                "message {i} shows nothing"
            );
            assert!(m.embeds.len() <= MAX_EMBEDS, "{} embeds", m.embeds.len());
            let total: usize = m.embeds.iter().map(Embed::total).sum();
            assert!(total <= MAX_EMBED_TOTAL, "embeds total {total}");
            for e in &m.embeds {
                assert!(!e.is_empty());
                if let Some(t) = &e.title {
                    assert!(!t.trim().is_empty() && units(t) <= MAX_TITLE);
                }
                if let Some(d) = &e.description {
                    assert!(!d.trim().is_empty() && units(d) <= MAX_DESCRIPTION);
                    // Code blocks are whole: opened and closed in the same embed.
                    assert_eq!(d.matches("```").count() % 2, 0, "{d}");
                }
                assert!(e.fields.len() <= MAX_FIELDS);
                for f in &e.fields {
                    assert!(!f.name.trim().is_empty() && units(&f.name) <= MAX_FIELD_NAME);
                    assert!(!f.value.trim().is_empty() && units(&f.value) <= MAX_FIELD_VALUE);
                }
                if let Some(f) = &e.footer {
                    assert!(!f.trim().is_empty() && units(f) <= 2048);
                }
            }
            if i != last {
                assert!(m.buttons.is_empty(), "buttons come last");
            }
            assert!(m.rows().count() <= MAX_ROWS);
            for b in &m.buttons {
                assert!(!b.label.trim().is_empty() && units(&b.label) <= MAX_BUTTON_LABEL);
                assert!(units(&b.custom_id) <= MAX_CUSTOM_ID);
                assert!(followup_question(&b.custom_id).is_some());
                let same = m.buttons.iter().filter(|o| o.custom_id == b.custom_id);
                assert_eq!(same.count(), 1, "custom ids are unique in a message");
            }
        }
    }

    #[test]
    fn answers_of_any_size_stay_within_discords_limits() {
        let mut longest = 0;
        for seed in 1..=150u64 {
            let mut g = Gen(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
            let a = answer(&mut g, 0);
            let heading = (seed % 3 == 0).then(|| g.text(400));
            let messages = render(&a, heading.as_deref());
            check_limits(&messages);
            longest = longest.max(messages.len());
            // Every row of the table is there, whole, exactly once.
            if let Some(t) = &a.table {
                let mut lines: std::collections::HashMap<&str, Vec<&str>> = Default::default();
                for l in messages
                    .iter()
                    .flat_map(|m| m.embeds.iter().filter_map(|e| e.description.as_deref()))
                    .flat_map(str::lines)
                {
                    if let Some(tag) = l.split_inclusive(':').next() {
                        lines.entry(tag).or_default().push(l);
                    }
                }
                for (r, row) in t.rows.iter().enumerate() {
                    let tag = row[0].text.split_inclusive(':').next().unwrap();
                    let hits = lines.get(tag).cloned().unwrap_or_default();
                    assert_eq!(hits.len(), 1, "seed {seed}: row {r}");
                    if let Some(last) = row.last().filter(|_| row.len() > 1) {
                        assert!(hits[0].ends_with(&last.text), "seed {seed}: {}", hits[0]);
                    }
                }
            }
        }
        assert!(
            longest > 2,
            "the generator makes answers that need several messages"
        );
    }

    #[test]
    fn a_cost_answer_has_content_fields_a_table_sources_a_footer_and_buttons() {
        let mut a = Answer {
            summary: "EC2 spend went up by $120.00 *fast* & more.".into(),
            basis: Some(basis()),
            suggestions: vec!["What about S3?".into(), "x".repeat(120)],
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
        let m = render(&a, None);
        assert_eq!(m.len(), 1);
        let m = &m[0];
        assert_eq!(m.content, "EC2 spend went up by $120.00 \\*fast\\* & more.");
        assert_eq!(
            m.embeds[0].fields[0],
            Field {
                name: "This week".into(),
                value: "$1,234.56".into(),
                inline: true
            }
        );
        let table = m.embeds[1].description.as_deref().unwrap();
        assert!(
            table.starts_with("```\nservice  cost\n-------------\n")
                && table.contains("EC2      $1,000.00\nS3           $5.00\n```"),
            "{table}"
        );
        assert_eq!(m.embeds[2].title.as_deref(), Some("Sources"));
        assert_eq!(
            m.embeds[2].description.as_deref(),
            Some("• [Rightsizing — Sizes](https://docs.aws.amazon.com/x)")
        );
        assert!(m.embeds[2]
            .footer
            .as_deref()
            .unwrap()
            .starts_with("Basis: 9–15 November 2026 vs 2–8 November 2026"));
        let ids: Vec<&str> = m.buttons.iter().map(|b| b.custom_id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "costbot:q:break that down by region",
                "costbot:q:break that down by account",
                "costbot:q:how did you get that?",
                "costbot:q:What about S3?",
            ],
            "a question too long for a custom id gets no button"
        );
        assert_eq!(m.buttons[2].label, "How did you get that?");
        assert_eq!(followup_question(ids[3]), Some("What about S3?"));
    }

    #[test]
    fn a_long_summary_moves_into_embeds_and_a_heading_stays_in_content() {
        let a = Answer {
            summary: "word ".repeat(1000),
            ..Default::default()
        };
        let m = render(&a, Some("and the month before?"));
        assert_eq!(m[0].content, "**and the month before?**");
        let text: String = m
            .iter()
            .flat_map(|m| m.embeds.iter().filter_map(|e| e.description.clone()))
            .collect::<Vec<_>>()
            .join(" ");
        assert_eq!(text.split_whitespace().count(), 1000, "nothing is lost");
    }

    #[test]
    fn markdown_is_escaped_and_text_is_cut_by_utf16_units() {
        assert_eq!(
            escape("a*b_c `d` ~e~ |f|"),
            "a\\*b\\_c \\`d\\` \\~e\\~ \\|f\\|"
        );
        assert_eq!(escape("> q\n# h\n  - l\nx-y"), "\\> q\n\\# h\n  \\- l\nx-y");
        assert_eq!(escape("[a](http://x)"), "\\[a\\](http://x)");
        assert_eq!(units("🚀"), 2);
        assert_eq!(truncate("🚀🚀🚀", 4), "🚀…");
        assert_eq!(truncate("abcdef", 4), "abc…");
        assert_eq!(chunk("aa\nbb", 3), vec!["aa", "bb"]);
        assert_eq!(chunk("aaaa bbbb", 5), vec!["aaaa", "bbbb"]);
        assert_eq!(chunk("abcdefgh", 3), vec!["abc", "def", "gh"]);
        assert!(chunk(" \n ", 3).is_empty());
    }
}
