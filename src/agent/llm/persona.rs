//! Who the prose is written for. A persona changes the model's wording only;
//! the figures, table and basis come from the tools either way.

use regex::Regex;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Persona {
    /// Totals, trend, forecast against budget; one line per point.
    Executive,
    /// Services, usage types, resources to look at, commands to run.
    Engineer,
}

impl std::str::FromStr for Persona {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "executive" | "exec" => Ok(Persona::Executive),
            "engineer" => Ok(Persona::Engineer),
            other => Err(format!(
                "'{other}' is not a persona; use executive or engineer"
            )),
        }
    }
}

fn re(pattern: &str) -> Regex {
    Regex::new(pattern).expect("valid regex")
}

impl Persona {
    pub fn as_str(self) -> &'static str {
        match self {
            Persona::Executive => "executive",
            Persona::Engineer => "engineer",
        }
    }

    /// The persona a question asks for ("explain it for my CFO"), if any.
    pub fn asked(text: &str) -> Option<Persona> {
        static EXEC: std::sync::OnceLock<Regex> = std::sync::OnceLock::new();
        static ENG: std::sync::OnceLock<Regex> = std::sync::OnceLock::new();
        let t = text.to_lowercase();
        let exec = EXEC.get_or_init(|| re(r"\b(for|to) (my|our|the|an?) ?(cfo|ceo|cto|vp|executives?|exec|leadership|board|finance( team)?|management|boss)\b|\bexecutive summary\b|\bas an? executive\b"));
        let eng = ENG.get_or_init(|| re(r"\b(for|to) (my|our|the|an?) ?(on-?call( engineer)?|engineers?|sres?|devops|developers?|platform team)\b|\bas an? engineer\b"));
        if exec.is_match(&t) {
            Some(Persona::Executive)
        } else if eng.is_match(&t) {
            Some(Persona::Engineer)
        } else {
            None
        }
    }

    /// The persona's paragraph for the system prompt.
    pub fn prompt(self) -> &'static str {
        match self {
            Persona::Executive => include_str!("../../../prompts/personas/executive.md"),
            Persona::Engineer => include_str!("../../../prompts/personas/engineer.md"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asked_for_by_who_reads_it() {
        assert_eq!(
            Persona::asked("explain it for my CFO"),
            Some(Persona::Executive)
        );
        assert_eq!(
            Persona::asked("Give me an executive summary of last month"),
            Some(Persona::Executive)
        );
        assert_eq!(
            Persona::asked("why did EC2 go up, for the on-call engineer"),
            Some(Persona::Engineer)
        );
        assert_eq!(
            Persona::asked("explain it to our SREs"),
            Some(Persona::Engineer)
        );
        assert_eq!(Persona::asked("how much did we spend last month?"), None);
        assert_eq!("Engineer".parse::<Persona>(), Ok(Persona::Engineer));
    }
}
