//! Service names as people say them, mapped to Cost Explorer's SERVICE values.

use serde::{Deserialize, Serialize};

/// Cost Explorer SERVICE dimension values, spelled exactly as AWS does.
pub const CATALOGUE: &[&str] = &[
    "Amazon Elastic Compute Cloud - Compute",
    "EC2 - Other",
    "Amazon Simple Storage Service",
    "Amazon Relational Database Service",
    "Amazon DynamoDB",
    "Amazon ElastiCache",
    "AWS Lambda",
    "Amazon Elastic Container Service",
    "Amazon Elastic Container Service for Kubernetes",
    "Amazon EC2 Container Registry (ECR)",
    "Amazon Virtual Private Cloud",
    "Amazon CloudFront",
    "AmazonCloudWatch",
    "Amazon Elastic Load Balancing",
    "Amazon Elastic File System",
    "Amazon Athena",
    "Amazon Redshift",
    "Amazon OpenSearch Service",
    "Amazon Kinesis",
    "Amazon Simple Queue Service",
    "Amazon Simple Notification Service",
    "Amazon Route 53",
    "AWS Key Management Service",
    "AWS Secrets Manager",
    "AWS Glue",
    "Amazon SageMaker",
    "AWS Config",
    "AWS CloudTrail",
    "Amazon GuardDuty",
    "AWS WAF",
    "Amazon API Gateway",
    "AWS Step Functions",
    "AWS Backup",
    "Amazon EMR",
    "Amazon Bedrock",
    "Savings Plans for AWS Compute usage",
    "AWS Support (Business)",
    "Tax",
];

/// What a phrase resolves to: one or more services, optionally narrowed to
/// usage types (e.g. NAT gateway charges live in "EC2 - Other").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceMatch {
    /// The words as the user wrote them.
    pub said: String,
    /// How the answer should name it ("EC2", "NAT gateway").
    pub display: String,
    pub services: Vec<String>,
    pub usage_type_contains: Vec<String>,
}

struct Alias {
    words: &'static [&'static str],
    display: &'static str,
    services: &'static [&'static str],
    usage: &'static [&'static str],
}

const ALIASES: &[Alias] = &[
    Alias {
        words: &["nat gateway", "nat gateways", "natgateway", "nat"],
        display: "NAT gateway",
        services: &["EC2 - Other"],
        usage: &["NatGateway"],
    },
    Alias {
        words: &["data transfer", "egress", "bandwidth", "data-transfer"],
        display: "data transfer",
        services: &[],
        usage: &["DataTransfer", "-AWS-Out-Bytes", "-AWS-In-Bytes"],
    },
    Alias {
        words: &["ebs", "elastic block store", "volumes", "snapshots"],
        display: "EBS",
        services: &["EC2 - Other"],
        usage: &["EBS:"],
    },
    Alias {
        words: &["ec2 other", "ec2-other"],
        display: "EC2 - Other",
        services: &["EC2 - Other"],
        usage: &[],
    },
    Alias {
        words: &["ec2", "instances", "elastic compute cloud"],
        display: "EC2",
        services: &["Amazon Elastic Compute Cloud - Compute"],
        usage: &[],
    },
    Alias {
        words: &["s3", "simple storage service", "buckets"],
        display: "S3",
        services: &["Amazon Simple Storage Service"],
        usage: &[],
    },
    Alias {
        words: &[
            "rds",
            "aurora",
            "relational database service",
            "postgres",
            "mysql",
        ],
        display: "RDS",
        services: &["Amazon Relational Database Service"],
        usage: &[],
    },
    Alias {
        words: &["dynamodb", "dynamo"],
        display: "DynamoDB",
        services: &["Amazon DynamoDB"],
        usage: &[],
    },
    Alias {
        words: &["elasticache", "redis", "memcached", "valkey"],
        display: "ElastiCache",
        services: &["Amazon ElastiCache"],
        usage: &[],
    },
    Alias {
        words: &["lambda", "lambdas"],
        display: "Lambda",
        services: &["AWS Lambda"],
        usage: &[],
    },
    Alias {
        words: &["eks", "kubernetes", "k8s"],
        display: "EKS",
        services: &["Amazon Elastic Container Service for Kubernetes"],
        usage: &[],
    },
    Alias {
        words: &["ecs", "fargate"],
        display: "ECS",
        services: &["Amazon Elastic Container Service"],
        usage: &[],
    },
    Alias {
        words: &["ecr", "container registry"],
        display: "ECR",
        services: &["Amazon EC2 Container Registry (ECR)"],
        usage: &[],
    },
    Alias {
        words: &["vpc", "public ipv4", "ipv4", "vpc endpoints", "privatelink"],
        display: "VPC",
        services: &["Amazon Virtual Private Cloud"],
        usage: &[],
    },
    Alias {
        words: &["cloudfront", "cdn"],
        display: "CloudFront",
        services: &["Amazon CloudFront"],
        usage: &[],
    },
    Alias {
        words: &["cloudwatch", "cloud watch", "cloudwatch logs"],
        display: "CloudWatch",
        services: &["AmazonCloudWatch"],
        usage: &[],
    },
    Alias {
        words: &[
            "elb",
            "alb",
            "nlb",
            "load balancer",
            "load balancers",
            "load balancing",
        ],
        display: "Elastic Load Balancing",
        services: &["Amazon Elastic Load Balancing"],
        usage: &[],
    },
    Alias {
        words: &["efs", "elastic file system"],
        display: "EFS",
        services: &["Amazon Elastic File System"],
        usage: &[],
    },
    Alias {
        words: &["athena"],
        display: "Athena",
        services: &["Amazon Athena"],
        usage: &[],
    },
    Alias {
        words: &["redshift"],
        display: "Redshift",
        services: &["Amazon Redshift"],
        usage: &[],
    },
    Alias {
        words: &["opensearch", "elasticsearch"],
        display: "OpenSearch",
        services: &["Amazon OpenSearch Service"],
        usage: &[],
    },
    Alias {
        words: &["kinesis"],
        display: "Kinesis",
        services: &["Amazon Kinesis"],
        usage: &[],
    },
    Alias {
        words: &["sqs"],
        display: "SQS",
        services: &["Amazon Simple Queue Service"],
        usage: &[],
    },
    Alias {
        words: &["sns"],
        display: "SNS",
        services: &["Amazon Simple Notification Service"],
        usage: &[],
    },
    Alias {
        words: &["route 53", "route53", "dns"],
        display: "Route 53",
        services: &["Amazon Route 53"],
        usage: &[],
    },
    Alias {
        words: &["kms"],
        display: "KMS",
        services: &["AWS Key Management Service"],
        usage: &[],
    },
    Alias {
        words: &["secrets manager"],
        display: "Secrets Manager",
        services: &["AWS Secrets Manager"],
        usage: &[],
    },
    Alias {
        words: &["glue"],
        display: "Glue",
        services: &["AWS Glue"],
        usage: &[],
    },
    Alias {
        words: &["sagemaker"],
        display: "SageMaker",
        services: &["Amazon SageMaker"],
        usage: &[],
    },
    Alias {
        words: &["guardduty"],
        display: "GuardDuty",
        services: &["Amazon GuardDuty"],
        usage: &[],
    },
    Alias {
        words: &["waf"],
        display: "WAF",
        services: &["AWS WAF"],
        usage: &[],
    },
    Alias {
        words: &["api gateway", "apigateway"],
        display: "API Gateway",
        services: &["Amazon API Gateway"],
        usage: &[],
    },
    Alias {
        words: &["step functions"],
        display: "Step Functions",
        services: &["AWS Step Functions"],
        usage: &[],
    },
    Alias {
        words: &["emr"],
        display: "EMR",
        services: &["Amazon EMR"],
        usage: &[],
    },
    Alias {
        words: &["bedrock"],
        display: "Bedrock",
        services: &["Amazon Bedrock"],
        usage: &[],
    },
    Alias {
        words: &["aws config"],
        display: "AWS Config",
        services: &["AWS Config"],
        usage: &[],
    },
    Alias {
        words: &["cloudtrail"],
        display: "CloudTrail",
        services: &["AWS CloudTrail"],
        usage: &[],
    },
    Alias {
        words: &["aws backup", "backup vault", "backup plan", "backup jobs"],
        display: "AWS Backup",
        services: &["AWS Backup"],
        usage: &[],
    },
    Alias {
        words: &["support", "aws support", "support plan"],
        display: "AWS Support",
        services: &["AWS Support (Business)"],
        usage: &[],
    },
];

fn normalize(s: &str) -> String {
    s.to_lowercase()
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == ' ' || c == '-' {
                c
            } else {
                ' '
            }
        })
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn contains_phrase(haystack: &str, phrase: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(pos) = haystack[from..].find(phrase) {
        let start = from + pos;
        let end = start + phrase.len();
        let before_ok = start == 0 || !haystack.as_bytes()[start - 1].is_ascii_alphanumeric();
        let boundary =
            |i: usize| i == haystack.len() || !haystack.as_bytes()[i].is_ascii_alphanumeric();
        // A plural names the same thing ("ALBs", "NAT gateways").
        let after_ok = boundary(end)
            || (haystack[end..].starts_with('s') && boundary(end + 1))
            || (haystack[end..].starts_with("es") && boundary(end + 2));
        if before_ok && after_ok {
            return Some(start);
        }
        from = start + 1;
    }
    None
}

/// Services mentioned anywhere in a sentence, in the order written. Longer
/// phrases win over the words inside them ("ec2 other" over "ec2").
pub fn find_in_text(text: &str) -> Vec<ServiceMatch> {
    let hay = normalize(text);
    let mut hits: Vec<(usize, usize, &Alias, &str)> = Vec::new();
    let mut catalogue_hits: Vec<(usize, usize, &str)> = Vec::new();
    for name in CATALOGUE {
        let n = normalize(name);
        if let Some(pos) = contains_phrase(&hay, &n) {
            catalogue_hits.push((pos, pos + n.len(), name));
        }
    }
    for alias in ALIASES {
        for w in alias.words {
            if let Some(pos) = contains_phrase(&hay, w) {
                hits.push((pos, pos + w.len(), alias, w));
            }
        }
    }
    let mut out: Vec<(usize, ServiceMatch)> = Vec::new();
    let mut spans: Vec<(usize, usize)> = Vec::new();
    let overlaps = |spans: &Vec<(usize, usize)>, s: usize, e: usize| {
        spans.iter().any(|(a, b)| s < *b && *a < e)
    };
    catalogue_hits.sort_by_key(|(s, e, _)| (std::cmp::Reverse(e - s), *s));
    for (s, e, name) in catalogue_hits {
        if overlaps(&spans, s, e) {
            continue;
        }
        spans.push((s, e));
        out.push((
            s,
            ServiceMatch {
                said: name.to_string(),
                display: name.to_string(),
                services: vec![name.to_string()],
                usage_type_contains: vec![],
            },
        ));
    }
    hits.sort_by_key(|(s, e, _, _)| (std::cmp::Reverse(e - s), *s));
    for (s, e, alias, w) in hits {
        if overlaps(&spans, s, e) {
            continue;
        }
        spans.push((s, e));
        out.push((s, to_match(alias, w)));
    }
    out.sort_by_key(|(s, _)| *s);
    // "RDS instances", "ElastiCache instances": the generic word belongs to the service before it.
    let generic = |m: &ServiceMatch| m.said == "instances";
    let mut kept: Vec<(usize, ServiceMatch)> = Vec::new();
    for (s, m) in out {
        let follows_service = kept.last().is_some_and(|(ps, pm): &(usize, ServiceMatch)| {
            let end = ps + normalize(&pm.said).len();
            hay.get(end..s).is_some_and(|gap| gap.trim().is_empty())
        });
        if generic(&m) && follows_service {
            continue;
        }
        kept.push((s, m));
    }
    let out = kept;
    let mut result: Vec<ServiceMatch> = Vec::new();
    for (_, m) in out {
        if !result.iter().any(|r| r.display == m.display) {
            result.push(m);
        }
    }
    result
}

fn to_match(alias: &Alias, said: &str) -> ServiceMatch {
    ServiceMatch {
        said: said.to_string(),
        display: alias.display.to_string(),
        services: alias.services.iter().map(|s| s.to_string()).collect(),
        usage_type_contains: alias.usage.iter().map(|s| s.to_string()).collect(),
    }
}

/// Resolves one service name given on its own (a tool argument, a "what about X?").
pub fn resolve(name: &str) -> Result<ServiceMatch, UnknownService> {
    let n = normalize(name);
    if let Some(exact) = CATALOGUE.iter().find(|c| normalize(c) == n) {
        return Ok(ServiceMatch {
            said: name.into(),
            display: exact.to_string(),
            services: vec![exact.to_string()],
            usage_type_contains: vec![],
        });
    }
    for alias in ALIASES {
        if alias.words.iter().any(|w| *w == n) || normalize(alias.display) == n {
            return Ok(to_match(alias, name));
        }
    }
    Err(UnknownService {
        given: name.to_string(),
        suggestions: suggest(name),
    })
}

/// Ordinary words of cost questions that sit close to a service word
/// ("instance" near "instances") and must not be taken for typos.
const COMMON_WORDS: &[&str] = &[
    "instance",
    "account",
    "accounts",
    "amount",
    "change",
    "changes",
    "compare",
    "budget",
    "budgets",
    "month",
    "months",
    "quarter",
    "daily",
    "weekly",
    "monthly",
    "region",
    "regions",
    "service",
    "services",
    "spend",
    "spent",
    "costs",
    "total",
    "totals",
    "break",
    "forecast",
    "anomaly",
    "anomalies",
    "increase",
    "decrease",
    "because",
    "about",
    "which",
    "where",
    "there",
    "their",
    "these",
    "those",
    "cloud",
    "storage",
    "traffic",
    "savings",
    "saving",
    "sample",
    "credits",
    "refunds",
    "tagged",
    "teams",
    "lambda",
    "usage",
    "types",
    "instances",
];

/// A word that is one or two letters away from a service name ("lamda",
/// "cloudwach"): a typo to point out rather than a subject to ignore.
pub fn near_miss(text: &str) -> Option<UnknownService> {
    let hay = normalize(text);
    for token in hay.split(|c: char| !c.is_ascii_alphanumeric()) {
        if token.len() < 5
            || COMMON_WORDS.contains(&token)
            || token.chars().any(|c| c.is_ascii_digit())
        {
            continue;
        }
        for alias in ALIASES {
            for w in alias
                .words
                .iter()
                .filter(|w| w.len() >= 5 && !w.contains(' '))
            {
                if token == *w || token.starts_with(w) || w.starts_with(token) {
                    continue;
                }
                let allowed = if w.len() >= 8 { 2 } else { 1 };
                if strsim::damerau_levenshtein(token, w) <= allowed {
                    let label = alias
                        .services
                        .first()
                        .map(|s| s.to_string())
                        .unwrap_or_else(|| alias.display.to_string());
                    return Some(UnknownService {
                        given: token.to_string(),
                        suggestions: vec![label],
                    });
                }
            }
        }
    }
    None
}

/// The closest real names to something that matched none.
pub fn suggest(name: &str) -> Vec<String> {
    let n = normalize(name);
    let mut scored: Vec<(f64, String)> = Vec::new();
    for c in CATALOGUE {
        let cn = normalize(c);
        let mut score = strsim::jaro_winkler(&n, &cn);
        if cn.contains(&n) && n.len() >= 3 {
            score += 0.3;
        }
        scored.push((score, c.to_string()));
    }
    for alias in ALIASES {
        for w in alias.words {
            let score = strsim::jaro_winkler(&n, w)
                + if strsim::damerau_levenshtein(&n, w) <= 2 {
                    0.2
                } else {
                    0.0
                };
            let label = alias
                .services
                .first()
                .map(|s| s.to_string())
                .unwrap_or_else(|| alias.display.to_string());
            scored.push((score, label));
        }
    }
    scored.sort_by(|a, b| b.0.partial_cmp(&a.0).unwrap_or(std::cmp::Ordering::Equal));
    let mut out: Vec<String> = Vec::new();
    for (score, label) in scored {
        if score < 0.75 {
            break;
        }
        if !out.contains(&label) {
            out.push(label);
        }
        if out.len() == 3 {
            break;
        }
    }
    out
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("'{given}' is not a service name Cost Explorer knows{}", suggestion_text(.suggestions))]
pub struct UnknownService {
    pub given: String,
    pub suggestions: Vec<String>,
}

fn suggestion_text(s: &[String]) -> String {
    if s.is_empty() {
        String::new()
    } else {
        format!(
            "; did you mean {}?",
            s.iter()
                .map(|x| format!("'{x}'"))
                .collect::<Vec<_>>()
                .join(" or ")
        )
    }
}

/// Short, readable name for a Cost Explorer SERVICE value.
pub fn short_name(service: &str) -> String {
    for alias in ALIASES {
        if alias.usage.is_empty() && alias.services.len() == 1 && alias.services[0] == service {
            return alias.display.to_string();
        }
    }
    service.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_services_as_people_say_them() {
        let cases: &[(&str, &[&str])] = &[
            ("why did EC2 go up last week?", &["EC2"]),
            ("how much did we spend on S3 and RDS", &["S3", "RDS"]),
            ("our NAT gateway bill", &["NAT gateway"]),
            ("data transfer costs", &["data transfer"]),
            ("cloudwatch and lambda", &["CloudWatch", "Lambda"]),
            ("EKS spend", &["EKS"]),
            (
                "spend on Amazon Simple Storage Service",
                &["Amazon Simple Storage Service"],
            ),
            ("EC2 other", &["EC2 - Other"]),
            ("total spend last month", &[]),
        ];
        for (text, expected) in cases {
            let got: Vec<String> = find_in_text(text).into_iter().map(|m| m.display).collect();
            assert_eq!(
                got,
                expected.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
                "{text}"
            );
        }
    }

    #[test]
    fn typos_are_caught_and_ordinary_words_are_not() {
        assert_eq!(
            near_miss("lamda spend last month").unwrap().suggestions,
            vec!["AWS Lambda"]
        );
        assert_eq!(
            near_miss("our cloudwach bill").unwrap().suggestions,
            vec!["AmazonCloudWatch"]
        );
        for ok in [
            "top 5 services by instance type",
            "how much did the accounts spend",
            "why did the bill increase last month",
            "spend on lambdas",
        ] {
            assert!(near_miss(ok).is_none(), "{ok}: {:?}", near_miss(ok));
        }
    }

    #[test]
    fn every_alias_and_display_name_resolves_to_known_services() {
        for alias in ALIASES {
            for name in alias.words.iter().chain([&alias.display]) {
                let m = resolve(name).unwrap_or_else(|e| panic!("{name}: {e}"));
                assert_eq!(m.display, alias.display, "{name}");
                for s in &m.services {
                    assert!(CATALOGUE.contains(&s.as_str()), "{name} -> {s}");
                }
                // And in a sentence, the way people write it.
                let found = find_in_text(&format!("how much did we spend on {name} last month?"));
                assert!(
                    found.iter().any(|f| f.display == alias.display),
                    "{name}: {found:?}"
                );
            }
        }
        for name in CATALOGUE {
            assert_eq!(resolve(name).unwrap().services, vec![name.to_string()]);
        }
        assert_eq!(
            find_in_text("half our ALBs idle")[0].display,
            "Elastic Load Balancing"
        );
    }

    #[test]
    fn nat_gateway_narrows_to_usage_types() {
        let m = resolve("NAT gateway").unwrap();
        assert_eq!(m.services, vec!["EC2 - Other"]);
        assert_eq!(m.usage_type_contains, vec!["NatGateway"]);
    }

    #[test]
    fn unknown_names_get_suggestions_not_zero() {
        let err = resolve("dynamo db").unwrap_err();
        assert!(
            err.suggestions.contains(&"Amazon DynamoDB".to_string()),
            "{err:?}"
        );
        let err = resolve("Lamda").unwrap_err();
        assert_eq!(
            err.suggestions.first().map(String::as_str),
            Some("AWS Lambda")
        );
        assert!(err.to_string().contains("did you mean"));
    }
}
