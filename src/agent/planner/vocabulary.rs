//! The words of cost questions the rules planner reads, each pattern
//! compiled once: compiling a pattern costs more than answering a question.

use std::sync::LazyLock;

use regex::Regex;

pub(super) fn re(p: &str) -> Regex {
    Regex::new(p).expect("planner pattern compiles")
}

/// Whether `word` stands in `text` as a whole word (as `\b` would say).
pub(super) fn contains_word(text: &str, word: &str) -> bool {
    if word.is_empty() {
        return false;
    }
    let is_word = |c: char| c.is_alphanumeric() || c == '_';
    text.match_indices(word).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + word.len()..].chars().next();
        // A boundary is only needed where the word itself starts or ends with a word character.
        let starts = word.chars().next().is_some_and(is_word);
        let ends = word.chars().next_back().is_some_and(is_word);
        (!starts || !before.is_some_and(is_word)) && (!ends || !after.is_some_and(is_word))
    })
}

/// The names people use for an account besides its own.
pub(super) fn account_aliases(name: &str) -> Vec<String> {
    let mut v = vec![name.to_lowercase()];
    match name {
        "prod" => v.push("production".into()),
        "dev" => v.push("development".into()),
        "staging" => v.push("stage".into()),
        _ => {}
    }
    v
}

pub(super) static WITH_CREDITS: LazyLock<Regex> =
    LazyLock::new(|| re(r"(includ\w*|with) (the )?(credits|refunds)"));
pub(super) static WITHOUT_CREDITS: LazyLock<Regex> =
    LazyLock::new(|| re(r"(exclud\w*|without|no) (the )?(credits|refunds)"));
pub(super) static MONTHLY: LazyLock<Regex> =
    LazyLock::new(|| re(r"\bmonthly\b|per month|by month|month by month|month over month"));
pub(super) static DAILY: LazyLock<Regex> =
    LazyLock::new(|| re(r"\bdaily\b|per day|each day|day by day"));

pub(super) static EXPLAIN: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"how did you (get|calculate|compute|work|come|arrive)|where (does|did) (that|this|the) (number|figure|data)|show (me )?your work|what (query|queries|api|calls)|which (query|queries|api|calls)|how was (that|this) calculated|where did you get|what did you (query|call|ask)|where did (those|these|the|that|this) (numbers?|figures?|data) come from|cost in (api )?(calls|requests)|how you (got|get|calculated|computed|worked out|came up with) (this|that|it|these|those)|how many (api |cost explorer )?(calls|requests)",
    )
});
pub(super) static HELP: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"^\s*(help|hi|hello|hey|what can you do|what do you do|commands|what can i ask( you)?|how do i use (you|this|costbot))\W*$|what (kinds? of |sorts? of )?(questions|things) (can|could|should) (i ask|you answer|you do)|what can you (actually )?do\b",
    )
});
/// A definition: "what is a savings plan", "what does amortized mean".
pub(super) static DEFINITION: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"^\W*(what('?s| is| are| does| do)|whats|define|meaning of|explain|eli5|difference between)\b|\b(mean|means|meaning|stand for|stands for)\W*$",
    )
});
/// A number is asked for: these keep a question about cost even when it also describes a problem.
pub(super) static QUANTITY: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"how much|\btotal\b|\bspen[dt] (on|in|for|last|this|during|over)\b|what (did|does|do|was|were|is|are|will) (?:(?:we|our|the|it|they|[\w-]{3,}) ){1,4}(spend|spent|cost|costs|pay|paid|bill|run us|set us back)\b|\bbreak ?down\b|\bbreakdown\b|\btop \d|\bshow me (the )?(spend|cost|bill|numbers)|\bhow (has|have|did) .* (changed|trended|moved)",
    )
});
/// One figure, explicitly: "just one total".
pub(super) static ONE_TOTAL: LazyLock<Regex> =
    LazyLock::new(|| re(r"\b(one|single|just (a|the)|the whole|in) total\b|\bsum it up\b"));
/// A how-to at the start of the message: advice even when it says "how much".
pub(super) static HOWTO_LEAD: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"^\W*(how (do|can|could|should|would) (i|we|you)|how to|what('s| is) the best way to|is there a way to)\b",
    )
});
/// "that one account" with nothing before it to point at.
pub(super) static POINTS_BACK: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"\bthat one (account|service|region|team)\b|\bthe (thing|one|numbers?) from before\b|^\W*(and|so|then|same again|again)\W*$",
    )
});
pub(super) static FORECAST: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"forecast|project(ed|ion)|end of (the )?month|month.end|on track|(over|within|under|against|vs\.?|versus|exceed\w*|past|beyond|blow\w*|bust\w*|go over|stay (in|within|under)|compared to|relative to) (the |our |my |this month's |the monthly )?budget|budget (status|check|burn)|will we|predict|expected (spend|cost|bill)|going to (spend|cost|be)|\bland at\b|\bheaded\b|\bheading\b|run.?rate|will .* (be|end|land|cost)\b",
    )
});
/// AWS's own forecast or Cost Anomaly Detection, rather than costbot's.
pub(super) static AWS_OWN: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"\b(aws|amazon)('s|s)?\s+(own\s+)?(forecast|predict|project|anomal)|\b(does|did|would|will|do) (aws|amazon)\b.{0,20}\b(forecast|predict|project|flag|detect|find|say|think)|\b(forecast\w*|predict\w*|projection|anomal\w*|spikes?)\b.{0,25}\b(from|by|of|according to|per) (aws|amazon)\b|anomaly detection|cost explorer('s)? (own )?forecast|\bflagged by (aws|amazon)\b|\b(aws|amazon)\b.{0,10}\bflag",
    )
});
/// AWS's rightsizing recommendations asked for: which instances to downsize
/// or terminate, or what rightsizing would save. Problems described ("our
/// instances are mostly idle") and how-to questions stay advice.
pub(super) static RIGHTSIZE: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"\b(which|what)\b.{0,30}\b(instances?|ec2|servers?|vms?|boxes|machines)\b.{0,30}\b(rightsiz\w*|right-siz\w*|downsiz\w*|resiz\w*|terminat\w*|shut ?down|kill)|\bwhich\b.{0,25}\b(should|could|can|to)\b.{0,5}\b(rightsiz\w*|right-siz\w*|downsiz\w*|resiz\w*)|\b(any|which|list|show( me)?|find)\b.{0,15}\b(oversized|over-?provisioned|underutili[sz]ed|under-utili[sz]ed|idle)\b.{0,15}\b(ec2|instances?)|\bidle (ec2 )?instances?\b.{0,30}\b(terminat\w*|shut|kill|stop|could|can|to)\b|\b(aws|amazon|cost explorer|optimization hub)\b.{0,25}\brecommend\w*\b.{0,30}\b(downsiz\w*|rightsiz\w*|resiz\w*|terminat\w*|instances?)|\brecommend\w* (that )?(we )?(downsiz|rightsiz|resiz)|\b(rightsizing|right-sizing) (recommendations?|opportunit\w+|savings|candidates)\b|\bhow much\b.{0,30}\b(rightsiz\w*|right-siz\w*|downsiz\w*)|\bcost optimi[sz]ation hub\b|\b(rightsiz\w*|right-siz\w*|downsiz\w*)\b.{0,40}\bsave\b|\bover-?sized (ec2|instances?)\b.{0,10}\?|\b(any|which|what)\b.{0,20}\b(instances?|ec2|servers?|vms?|boxes|machines)\b.{0,30}\b(should|could|can|to)\b.{0,10}\b(rightsiz\w*|right-siz\w*|downsiz\w*|resiz\w*|shrink|scale down)",
    )
});
/// Rightsizing across families ("to Graviton", "any family").
pub(super) static CROSS_FAMILY: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"\bcross[- ]?(instance[- ])?family|\b(across|other|any|different) (instance )?famil|\bgraviton\b",
    )
});
/// How-to and guidance wording: "how do I rightsize safely" wants the guide.
pub(super) static GUIDANCE: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"\bhow (do|can|could|should|would) (i|we|you|one)\b|\bhow to\b|\bbest practices?\b|\bsafely\b|\bcompute optimizer\b",
    )
});
/// Of AWS's own analyses, the anomalies rather than the forecast.
pub(super) static AWS_FLAGGED: LazyLock<Regex> =
    LazyLock::new(|| re(r"anomal|\bflag|\bdetect|spike"));
/// Which accounts there are, by name: answered with spend by account and
/// the names costbot knows (configured and from Organizations).
pub(super) static ACCOUNT_LIST: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"\b(which|what) (aws )?accounts (do|does|are|exist|have)\b|\b(list|show|name)( me)? (all |of )?(the |our |my )?(aws |linked |member )?accounts\b|\baccount (names|list)\b|\baccounts (in|of) (the |our )?(org|organi[sz]ation)\b|\bwhat are (the |our )?accounts called\b",
    )
});
/// Where the budgets stand: "are we over any budget", "which budgets will
/// we blow", "budget status". Answered from AWS Budgets beside costbot's own
/// projection against the configured budget.
pub(super) static BUDGET_STANDING: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"\bbudgets\b.{0,40}\b(over|blow\w*|bust\w*|exceed\w*|overshoot\w*|overrun\w*|breach\w*|at risk|status|track\w*|stand\w*|doing|look\w*|going)\b|\b(over|within|under|against|blow\w*|bust\w*|exceed\w*|past|track\w*|overshoot\w*|overrun\w*|breach\w*|go over|gone over|went over|with) (any|all|all of|each of|one of|none of|some of|every)? ?(the |our |my |its |their |this month's |the monthly |aws |our aws )?budgets?\b|\bbudgets? (status|check|burn|health|report|overview|update)|\b(which|what|any|all|our|show|list) (of )?(the |our |my )?(aws )?budgets\b|\baws budgets?\b.{0,30}\b(over|status|track\w*|say|show)",
    )
});
pub(super) static ANOMALY: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"anomal|spike|unusual|unexpected|weird|strange|\bsurge|outlier|sudden|out of the ordinary|abnormal|\bodd\b|out of line|stand out|\bblips?\b",
    )
});
pub(super) static COMPARE: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"why (did|is|was|has|are|were)|go(ne)? up|went up|go(ne)? down|went down|increase|decrease|\bdrop|\brise\b|\brose\b|\bgrew\b|\bgrow(s|n|ing)?\b|\bchange|compare|compared|\bvs\.?\b|versus|difference|jump|higher than|lower than|more than|less than|over week|over month|\bagainst\b|more expensive|pricier|costlier|cheaper than",
    )
});
pub(super) static TREND: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"\btrend|\bdaily\b|per day|each day|day by day|over time|\bchart|\bgraph|\bplot|\bmonthly\b|per month|by month|month by month|month over month|history|day-by-day|\bby day\b|\bby week\b|weekly",
    )
});
pub(super) static BREAKDOWN: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"break(ing)? (it |that |this |those )?down|breakdown|\bsplit\b|\btop( \d+)?\b|biggest|largest|most expensive|priciest|which (services|accounts|regions|teams)|what (services|accounts|regions|teams)|\bper (service|account|region|team|usage type|instance type)|\bby (service|account|region|team|env|environment|usage type|usage|instance type|tag)|where (is|does|did) (the|our|all the) money|\bwhat('s| is) (driving|eating)",
    )
});
pub(super) static COST_WORDS: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"\bspen[dt]|\bcost|\bbill|how much|\btotal|\bpay|\bpaid|\bcharge|\bexpens|\bdollars|\$|\bspend|\bmtd\b|\bytd\b",
    )
});
pub(super) static WHY_CHANGE: LazyLock<Regex> = LazyLock::new(|| {
    re(r"\bwhy (did|is|was|has|are|were|does|do)\b|\bwhat (caused|drove|happened)")
});
pub(super) static CLEAR_FILTERS: LazyLock<Regex> =
    LazyLock::new(|| re(r"\bin total\b|\boverall\b|\ball of it\b|\bwhole bill\b|\beverything\b"));
pub(super) static RELATIVE_PREVIOUS: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"\b(the )?(month|week|day|quarter|year|period|one) before\b|\bbefore that\b|\bprevious (one|period)\b|\bprior period\b",
    )
});
pub(super) static FOLLOWUP_START: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"^\s*(and|what about|how about|only|just|now|same|also|then|ok|okay|but|excluding|except|break (it|that|this) down|for|split (it|that|this)|same (for|but)|what if|in|per|by|include|both)\b",
    )
});
pub(super) static FOLLOWUP_REF: LazyLock<Regex> =
    LazyLock::new(|| re(r"\b(that|those|it|same|instead|them|this one|as well|too|also)\b"));
