//! Markdown for the terminal and for plain-text channels.

use crate::agent::Answer;

pub fn render(a: &Answer) -> String {
    let mut out = String::new();
    out.push_str(&a.summary);
    out.push('\n');
    if let Some(t) = &a.table {
        out.push('\n');
        let widths: Vec<usize> = (0..t.columns.len())
            .map(|i| {
                t.rows
                    .iter()
                    .filter_map(|r| r.get(i))
                    .map(|c| c.text.chars().count())
                    .chain(std::iter::once(t.columns[i].chars().count()))
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let line = |cells: &[&str]| -> String {
            let padded: Vec<String> = cells
                .iter()
                .enumerate()
                .map(|(i, &c)| {
                    let w = widths.get(i).copied().unwrap_or(0);
                    let pad = w.saturating_sub(c.chars().count());
                    // Amounts read best right-aligned.
                    if i > 0 && looks_numeric(c) {
                        format!("{}{}", " ".repeat(pad), c)
                    } else {
                        format!("{}{}", c, " ".repeat(pad))
                    }
                })
                .collect();
            format!("| {} |\n", padded.join(" | "))
        };
        out.push_str(&line(
            &t.columns.iter().map(String::as_str).collect::<Vec<_>>(),
        ));
        out.push_str(&format!(
            "|{}|\n",
            widths
                .iter()
                .map(|w| "-".repeat(w + 2))
                .collect::<Vec<_>>()
                .join("|")
        ));
        for r in &t.rows {
            out.push_str(&line(
                &r.iter().map(|c| c.text.as_str()).collect::<Vec<_>>(),
            ));
        }
    }
    if !a.details.is_empty() {
        out.push('\n');
        for d in &a.details {
            out.push_str(d);
            out.push('\n');
        }
    }
    if !a.citations.is_empty() {
        out.push_str("\nSources:\n");
        for c in &a.citations {
            match &c.source_url {
                Some(u) => out.push_str(&format!(
                    "- {} — {} ({}; {})\n",
                    c.title,
                    c.section.split(" > ").last().unwrap_or(&c.section),
                    c.guide,
                    u
                )),
                None => out.push_str(&format!("- {} — {} ({})\n", c.title, c.section, c.guide)),
            }
        }
    }
    if let Some(b) = &a.basis {
        out.push('\n');
        out.push_str(&b.line());
        out.push('\n');
    }
    for n in &a.notes {
        out.push_str(&format!("Note: {n}\n"));
    }
    for section in &a.sections {
        out.push_str(&format!("\n## {}\n\n", section.title));
        out.push_str(&render(&section.answer));
    }
    out
}

fn looks_numeric(s: &str) -> bool {
    let t = s.trim_start_matches(['+', '-', '$']);
    !t.is_empty() && t.chars().next().is_some_and(|c| c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::Table;

    #[test]
    fn table_and_basis_render() {
        let a = Answer {
            summary: "S".into(),
            table: Some(Table {
                columns: vec!["service".into(), "Cost".into()],
                rows: vec![
                    vec!["EC2".into(), "$1,000.00".into()],
                    vec!["S3".into(), "$5.00".into()],
                ],
            }),
            ..Default::default()
        };
        let text = render(&a);
        assert!(text.contains("| EC2     | $1,000.00 |"), "{text}");
        assert!(text.contains("| S3      |     $5.00 |"), "{text}");
    }

    #[test]
    fn sections_render_under_their_titles() {
        let a = Answer {
            summary: "Daily digest".into(),
            sections: vec![crate::agent::answer::Section {
                title: "Yesterday".into(),
                answer: Answer {
                    summary: "AWS spend yesterday: $10.00.".into(),
                    ..Default::default()
                },
            }],
            ..Default::default()
        };
        let text = render(&a);
        let head = text.find("Daily digest").unwrap();
        let title = text.find("## Yesterday").unwrap();
        let body = text.find("AWS spend yesterday: $10.00.").unwrap();
        assert!(head < title && title < body, "{text}");
    }
}
