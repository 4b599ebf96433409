//! The commitment tools: AWS's purchase recommendations and the coverage and
//! utilization of Savings Plans and reservations. Arguments as people say
//! them (EC2, 30 days) become the API's values here.

use crate::costs::commitments::{
    CommitmentKind, RecommendationQuery, UsageMeasure, UsageQuery, LOOKBACKS, PAYMENT_OPTIONS,
    SAVINGS_PLANS_TYPES, TERMS,
};
use crate::costs::periods::Period;
use crate::costs::Granularity;
use crate::language::services;

use super::{AwsCommitmentUsageArgs, AwsRecommendationsArgs, ToolError, ToolOutput, Tools};

fn bad(tool: &str, message: String) -> ToolError {
    ToolError::BadArguments {
        tool: tool.to_string(),
        message,
    }
}

fn kind(tool: &str, k: &str) -> Result<CommitmentKind, ToolError> {
    match k {
        "savings_plans" => Ok(CommitmentKind::SavingsPlans),
        "reserved_instances" | "reservations" => Ok(CommitmentKind::Reservations),
        other => Err(bad(
            tool,
            format!("kind must be savings_plans or reserved_instances, not '{other}'"),
        )),
    }
}

fn pick(tool: &str, what: &str, v: Option<&str>, allowed: &[&str]) -> Result<String, ToolError> {
    let v = v.unwrap_or(allowed[0]);
    if allowed.contains(&v) {
        Ok(v.to_string())
    } else {
        Err(bad(
            tool,
            format!("{what} must be one of {}, not '{v}'", allowed.join(", ")),
        ))
    }
}

/// The one Cost Explorer SERVICE a commitment question names.
fn one_service(tool: &str, said: &str) -> Result<String, ToolError> {
    let m = services::resolve(said)?;
    match m.services.as_slice() {
        [one] if m.usage_type_contains.is_empty() => Ok(one.clone()),
        _ => Err(bad(
            tool,
            format!("'{said}' is part of a service or several; commitments are per service (EC2, RDS, ...)"),
        )),
    }
}

impl Tools {
    pub(super) async fn recommendations(
        &self,
        a: &AwsRecommendationsArgs,
    ) -> Result<ToolOutput, ToolError> {
        let tool = "aws_commitment_recommendations";
        let kind = kind(tool, &a.kind)?;
        let mut q = RecommendationQuery::new(kind);
        q.term = pick(tool, "term", a.term.as_deref(), TERMS)?;
        q.payment_option = pick(
            tool,
            "payment_option",
            a.payment_option.as_deref(),
            PAYMENT_OPTIONS,
        )?;
        q.lookback = match a.lookback_days {
            None | Some(30) => "THIRTY_DAYS".into(),
            Some(7) => LOOKBACKS[0].into(),
            Some(60) => LOOKBACKS[2].into(),
            Some(n) => {
                return Err(bad(
                    tool,
                    format!("lookback_days must be 7, 30 or 60, not {n}"),
                ))
            }
        };
        match kind {
            CommitmentKind::SavingsPlans => {
                q.savings_plans_type = Some(pick(
                    tool,
                    "savings_plans_type",
                    a.savings_plans_type.as_deref(),
                    SAVINGS_PLANS_TYPES,
                )?);
                // "savings plan for EC2": the Compute plan covers it; the service is not a parameter.
            }
            CommitmentKind::Reservations => {
                if let Some(s) = &a.service {
                    q.service = Some(one_service(tool, s)?);
                }
            }
        }
        let result = self.source.recommendations(&q).await?;
        Ok(ToolOutput::AwsRecommendations { result })
    }

    pub(super) async fn commitment_usage(
        &self,
        a: &AwsCommitmentUsageArgs,
        window: Period,
    ) -> Result<ToolOutput, ToolError> {
        let tool = "aws_commitment_usage";
        let kind = kind(tool, &a.kind)?;
        let measure = match a.measure.as_str() {
            "coverage" => UsageMeasure::Coverage,
            "utilization" => UsageMeasure::Utilization,
            other => {
                return Err(bad(
                    tool,
                    format!("measure must be coverage or utilization, not '{other}'"),
                ))
            }
        };
        let mut q = UsageQuery::new(kind, measure, window);
        q.granularity = a.granularity.unwrap_or(Granularity::Monthly);
        if let Some(s) = &a.service {
            // Savings Plans utilization is per plan: a service there narrows nothing.
            if !(kind == CommitmentKind::SavingsPlans && measure == UsageMeasure::Utilization) {
                q.services = vec![one_service(tool, s)?];
            }
        }
        let result = self.source.commitment_usage(&q).await?;
        Ok(ToolOutput::AwsCommitmentUsage { result })
    }
}
