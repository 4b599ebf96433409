//! Checks a model's tool arguments against the tool's JSON Schema (the
//! subset `tools::definitions` uses) before anything runs, then reads them
//! into the typed arguments.

use regex::Regex;
use serde_json::Value;

use crate::agent::tools::{self, ToolArgs};

/// The typed arguments, or a sentence saying what is wrong (for the model).
pub fn validate(name: &str, arguments: &Value) -> Result<ToolArgs, String> {
    let defs = tools::definitions();
    let schema = defs
        .as_array()
        .and_then(|a| a.iter().find(|d| d["function"]["name"] == name))
        .map(|d| d["function"]["parameters"].clone())
        .ok_or_else(|| {
            format!(
                "there is no tool named '{name}'; the tools are {}",
                tools::TOOL_NAMES.join(", ")
            )
        })?;
    let args = if arguments.is_null() {
        Value::Object(Default::default())
    } else {
        arguments.clone()
    };
    check(&schema, &args, "arguments")?;
    ToolArgs::parse(name, &args).map_err(|e| e.to_string())
}

fn check(schema: &Value, v: &Value, at: &str) -> Result<(), String> {
    if let Some(t) = schema["type"].as_str() {
        let ok = match t {
            "object" => v.is_object(),
            "array" => v.is_array(),
            "string" => v.is_string(),
            "integer" => v.is_i64() || v.is_u64(),
            "number" => v.is_number(),
            "boolean" => v.is_boolean(),
            _ => true,
        };
        if !ok {
            return Err(format!("{at} must be {}", article(t)));
        }
    }
    if let Some(allowed) = schema["enum"].as_array() {
        if !allowed.contains(v) {
            return Err(format!(
                "{at} must be one of {}",
                Value::Array(allowed.clone())
            ));
        }
    }
    if let (Some(p), Some(s)) = (schema["pattern"].as_str(), v.as_str()) {
        if !Regex::new(p).map(|r| r.is_match(s)).unwrap_or(true) {
            return Err(format!("{at} '{s}' does not match {p}"));
        }
    }
    if let (Some("date"), Some(s)) = (schema["format"].as_str(), v.as_str()) {
        if chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_err() {
            return Err(format!("{at} '{s}' is not a date in the form YYYY-MM-DD"));
        }
    }
    if let Some(n) = v.as_f64() {
        if schema["minimum"].as_f64().is_some_and(|m| n < m) {
            return Err(format!("{at} must be at least {}", schema["minimum"]));
        }
        if schema["maximum"].as_f64().is_some_and(|m| n > m) {
            return Err(format!("{at} must be at most {}", schema["maximum"]));
        }
    }
    if let Some(items) = v.as_array() {
        if schema["maxItems"]
            .as_u64()
            .is_some_and(|m| items.len() as u64 > m)
        {
            return Err(format!("{at} takes at most {} items", schema["maxItems"]));
        }
        if schema["items"].is_object() {
            for (i, item) in items.iter().enumerate() {
                check(&schema["items"], item, &format!("{at}[{i}]"))?;
            }
        }
    }
    if let Some(obj) = v.as_object() {
        for r in schema["required"].as_array().into_iter().flatten() {
            if let Some(r) = r.as_str() {
                if !obj.contains_key(r) {
                    return Err(format!("{at}.{r} is required"));
                }
            }
        }
        let props = schema["properties"].as_object();
        for (k, sub) in obj {
            match props.and_then(|p| p.get(k)) {
                Some(s) => check(s, sub, &format!("{at}.{k}"))?,
                None => match &schema["additionalProperties"] {
                    Value::Bool(false) => {
                        return Err(format!("{at}.{k} is not a known field"));
                    }
                    s if s.is_object() => check(s, sub, &format!("{at}.{k}"))?,
                    _ => {}
                },
            }
        }
    }
    Ok(())
}

fn article(t: &str) -> String {
    match t {
        "object" | "array" | "integer" => format!("an {t}"),
        other => format!("a {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn schema_errors_say_where() {
        let ok = json!({"period": {"start": "2026-10-01", "end": "2026-10-31"}, "group_by": ["SERVICE"]});
        assert!(validate("get_cost_and_usage", &ok).is_ok());
        let cases = [
            (json!({}), "arguments.period is required"),
            (
                json!({"period": {"start": "October", "end": "2026-10-31"}}),
                "not a date",
            ),
            (
                json!({"period": {"start": "2026-10-01", "end": "2026-10-31"}, "group_by": ["SERVICE", "REGION", "USAGE_TYPE"]}),
                "at most 2",
            ),
            (
                json!({"period": {"start": "2026-10-01", "end": "2026-10-31"}, "group_by": ["BUCKET"]}),
                "does not match",
            ),
            (
                json!({"period": {"start": "2026-10-01", "end": "2026-10-31"}, "top_n": 0}),
                "at least 1",
            ),
            (
                json!({"period": {"start": "2026-10-01", "end": "2026-10-31"}, "metric": "Dollars"}),
                "one of",
            ),
            (
                json!({"period": {"start": "2026-10-01", "end": "2026-10-31"}, "filter": {"team": "x"}}),
                "not a known field",
            ),
            (json!("last month"), "must be an object"),
        ];
        for (args, expected) in cases {
            let err = validate("get_cost_and_usage", &args).unwrap_err();
            assert!(err.contains(expected), "{args}: {err}");
        }
        assert!(validate("delete_everything", &json!({}))
            .unwrap_err()
            .contains("no tool named"));
    }
}
