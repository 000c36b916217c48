//! Turning raw `name:value` options into typed [`Options`].
//!
//! Every keyword we know is listed in [`apply`]; anything else fails the
//! rule as an unsupported keyword, so a rule is never loaded with part
//! of its logic silently missing.

use super::buffers::{BufMatch, HttpBuf, Transform};
use super::bytes::{self, ByteVars};
use super::classification::Classifications;
use super::error::RuleError;
use super::fields::{self, Fragbits, StreamSize};
use super::flowvars::{self, FlowbitsValue, VarOp};
use super::lexer::{unescape_lenient, unquote, RawOption};
use super::packet::{ip_proto_number, Cmp, Flags, Flow};
use super::payload::{parse_content, parse_pcre, Content, FastPattern, Match};
use super::threshold::{self, DetectionFilter, Threshold};

/// Everything after the header.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    pub msg: String,
    pub sid: Option<u32>,
    pub gid: Option<u32>,
    pub rev: Option<u32>,
    pub classtype: Option<String>,
    pub category: Option<String>,
    pub class_priority: Option<u8>,
    pub priority: Option<u8>,
    pub metadata: Vec<String>,
    pub references: Vec<String>,
    /// Contents and pcres, in rule order.
    pub matches: Vec<Match>,
    pub flow: Flow,
    pub dsize: Option<Cmp>,
    pub flags: Option<Flags>,
    pub ttl: Option<Cmp>,
    /// Every `ip_proto` must hold (rules list several, e.g. `!1; !6;`).
    pub ip_proto: Vec<Cmp>,
    pub itype: Option<Cmp>,
    pub icode: Option<Cmp>,
    pub seq: Option<Cmp>,
    pub ack: Option<Cmp>,
    pub window: Option<Cmp>,
    /// IPv4 identification (`id`).
    pub ip_id: Option<Cmp>,
    pub fragbits: Option<Fragbits>,
    /// The fragment offset field, in 8-byte units as on the wire.
    pub fragoffset: Option<Cmp>,
    /// Source and destination address are the same.
    pub sameip: bool,
    pub icmp_id: Option<Cmp>,
    pub icmp_seq: Option<Cmp>,
    /// `ipopts`: mask of options, any of which must be present.
    pub ipopts: Option<u16>,
    pub tcp_mss: Option<Cmp>,
    pub stream_size: Option<StreamSize>,
    /// `decode-event` / `stream-event`: full event names.
    pub events: Vec<String>,
    /// `flowbits`, `flowint`, `xbits`, in rule order.
    pub vars: Vec<VarOp>,
    /// Match and act, but log no alert.
    pub noalert: bool,
    /// `prefilter` was given: it only picks the prefilter keyword in
    /// Suricata; our result is the same without it.
    pub prefilter: bool,
    pub threshold: Option<Threshold>,
    pub detection_filter: Option<DetectionFilter>,
    /// Names of `byte_extract`/`byte_math` variables, in rule order.
    pub byte_vars: ByteVars,
    /// HTTP buffer selections with their payload keywords, in rule
    /// order; `matches` above holds only what reads the packet/stream.
    pub buffers: Vec<BufMatch>,
    /// `app-layer-protocol`: (negated, name).
    pub app_layer_protocol: Option<(bool, String)>,
    /// `app-layer-event:http.*`, by full name.
    pub app_events: Vec<String>,
    /// The sticky buffer payload keywords go to (index in `buffers`).
    pub(crate) cursor: Option<usize>,
    /// Where the latest content or pcre went (None: `matches`).
    pub(crate) last_at: Option<usize>,
}

impl Options {
    /// A content position modifier: a number, or a byte variable.
    fn content_num(&mut self, keyword: &str, value: &str) -> Result<(), String> {
        let var = self.byte_vars.get(value.trim());
        let c = self.last_content(keyword)?;
        let (num, slot): (&mut Option<u32>, &mut Option<u8>) = match keyword {
            "offset" => (&mut c.offset, &mut c.vars.offset),
            "depth" => (&mut c.depth, &mut c.vars.depth),
            _ => (&mut c.within, &mut c.vars.within),
        };
        if num.is_some() || slot.is_some() {
            return Err(format!("'{keyword}' given twice"));
        }
        match var {
            Some(v) => *slot = Some(v),
            None => *num = Some(number(value)?),
        }
        Ok(())
    }

    /// The list payload keywords go to now: the sticky buffer's, else
    /// the packet/stream list.
    fn current(&mut self) -> &mut Vec<Match> {
        match self.cursor {
            Some(i) => &mut self.buffers[i].matches,
            None => &mut self.matches,
        }
    }

    /// The list a relative keyword without a buffer of its own goes to:
    /// after a legacy-modified content that is the content's buffer, as
    /// in Suricata (`content:"a"; http_uri; pcre:"/b/R";` reads the URI).
    fn relative_list(&mut self, relative: bool) -> &mut Vec<Match> {
        match (self.cursor, self.last_at) {
            (None, Some(i)) if relative => &mut self.buffers[i].matches,
            _ => self.current(),
        }
    }

    /// Appends a content or pcre to the current list.
    fn push_anchor(&mut self, m: Match) {
        self.last_at = self.cursor;
        self.current().push(m);
    }

    /// The last selection of `buf` without transforms, made if needed:
    /// legacy modifiers and pcre flags add to it, so their contents can
    /// be relative to each other.
    fn plain_buffer(&mut self, buf: HttpBuf) -> usize {
        let found = self
            .buffers
            .iter()
            .rposition(|b| b.buf == buf && b.transforms.is_empty());
        match found {
            Some(i) => i,
            None => {
                self.buffers.push(BufMatch::new(buf));
                self.buffers.len() - 1
            }
        }
    }

    /// A legacy modifier: the latest content moves into `buf`.
    fn move_last_content(&mut self, name: &str, buf: HttpBuf) -> Result<(), String> {
        if self.last_at.is_some() {
            return Err(format!(
                "'{name}' after a content that has a buffer already"
            ));
        }
        let at = self
            .matches
            .iter()
            .rposition(|m| matches!(m, Match::Content(_) | Match::Pcre(_)));
        let Some(at) = at.filter(|&i| matches!(self.matches[i], Match::Content(_))) else {
            return Err(format!("'{name}' needs a content before it"));
        };
        let m = self.matches.remove(at);
        let i = self.plain_buffer(buf);
        self.buffers[i].matches.push(m);
        self.last_at = Some(i);
        Ok(())
    }

    /// The content a modifier applies to: the latest content, looking
    /// past byte keywords (`isdataat:1,relative; distance:0;` modifies
    /// the content before the isdataat, as in Suricata) but not past a
    /// pcre.
    fn last_content(&mut self, keyword: &str) -> Result<&mut Content, String> {
        let list = match self.last_at {
            Some(i) => &mut self.buffers[i].matches,
            None => &mut self.matches,
        };
        let latest = list
            .iter_mut()
            .rev()
            .find(|m| matches!(m, Match::Content(_) | Match::Pcre(_)));
        match latest {
            Some(Match::Content(c)) => Ok(c),
            _ => Err(format!("'{keyword}' needs a content before it")),
        }
    }
}

/// Parses the options in order. The first failing option decides the
/// error; its keyword is attached here.
pub fn parse_options(
    raw: &[RawOption<'_>],
    classes: &Classifications,
) -> Result<Options, RuleError> {
    let mut o = Options::default();
    for opt in raw {
        apply(&mut o, opt, classes).map_err(|e| match e {
            Apply::Unsupported(k) => RuleError::unsupported_keyword(k),
            Apply::Bad(what) => RuleError::malformed(what).keyword(&opt.name),
        })?;
    }
    check(&o)?;
    Ok(o)
}

enum Apply {
    Unsupported(String),
    Bad(String),
}

impl From<String> for Apply {
    fn from(s: String) -> Self {
        Apply::Bad(s)
    }
}

fn apply(o: &mut Options, opt: &RawOption<'_>, classes: &Classifications) -> Result<(), Apply> {
    let name = opt.name.as_str();
    if let Some(done) = apply_buffer(o, name, opt.value.is_some()) {
        return done;
    }
    // Keywords that take no value.
    let flag_only = matches!(
        name,
        "nocase" | "startswith" | "endswith" | "rawbytes" | "sameip" | "noalert" | "prefilter"
    );
    let value = match (opt.value, flag_only) {
        (Some(v), false) => v,
        (None, true) => "",
        (Some(_), true) if name == "rawbytes" || name == "nocase" => "",
        (Some(_), true) => return Err(format!("'{name}' takes no value").into()),
        (None, false) if name == "fast_pattern" => "",
        (None, false) if is_known(name) => return Err(format!("'{name}' needs a value").into()),
        (None, false) => return Err(Apply::Unsupported(name.to_string())),
    };
    match name {
        "msg" => o.msg = unescape_lenient(unquote(value)?),
        "sid" => o.sid = Some(positive(value)?),
        "gid" => o.gid = Some(positive(value)?),
        "rev" => o.rev = Some(number(value)?),
        "classtype" => {
            let class = classes
                .get(value)
                .ok_or_else(|| format!("unknown classtype '{value}'"))?;
            o.classtype = Some(class.name.clone());
            o.category = Some(class.description.clone());
            o.class_priority = Some(class.priority);
        }
        "priority" => {
            let p: u8 = value
                .parse()
                .map_err(|_| format!("bad priority '{value}'"))?;
            if p == 0 {
                return Err("priority must be 1 or more".to_string().into());
            }
            o.priority = Some(p);
        }
        "metadata" => o.metadata.push(value.to_string()),
        "reference" => o.references.push(value.to_string()),
        // Only asks for the packets after an alert to be logged too,
        // which we do not do: the rule's detection is unaffected.
        "tag" => match value.split(',').next().map(str::trim) {
            Some("session" | "host") => {}
            _ => return Err(format!("bad tag '{value}'").into()),
        },
        "content" => o.push_anchor(Match::Content(parse_content(value)?)),
        "uricontent" => {
            let c = parse_content(value)?;
            let i = o.plain_buffer(HttpBuf::Uri);
            o.buffers[i].matches.push(Match::Content(c));
            o.last_at = Some(i);
        }
        "pcre" => match parse_pcre(value) {
            Ok(mut p) => match p.flags.buffer.take() {
                // The flag is spent once the pcre sits in its buffer.
                Some(buf) => {
                    let i = o.plain_buffer(buf);
                    o.buffers[i].matches.push(Match::Pcre(p));
                    o.last_at = Some(i);
                }
                None if p.flags.relative && o.cursor.is_none() => {
                    o.relative_list(true).push(Match::Pcre(p));
                }
                None => o.push_anchor(Match::Pcre(p)),
            },
            Err(Ok(flag)) => return Err(Apply::Unsupported(format!("pcre/{flag}"))),
            Err(Err(e)) => return Err(e.into()),
        },
        "nocase" => set_once(&mut o.last_content(name)?.nocase, name)?,
        "startswith" => set_once(&mut o.last_content(name)?.startswith, name)?,
        "endswith" => set_once(&mut o.last_content(name)?.endswith, name)?,
        "rawbytes" => {
            o.last_content(name)?;
        }
        "depth" | "offset" | "within" => o.content_num(name, value)?,
        "distance" => {
            let var = o.byte_vars.get(value.trim());
            let c = o.last_content(name)?;
            if c.distance.is_some() || c.vars.distance.is_some() {
                return Err("'distance' given twice".to_string().into());
            }
            match var {
                Some(v) => c.vars.distance = Some(v),
                None => {
                    let d: i32 = value.parse().map_err(|_| format!("bad number '{value}'"))?;
                    c.distance = Some(d);
                }
            }
        }
        "fast_pattern" => {
            let c = o.last_content(name)?;
            let fp = parse_fast_pattern(value)?;
            if c.fast_pattern.replace(fp).is_some() {
                return Err("'fast_pattern' given twice".to_string().into());
            }
        }
        "flow" => o.flow = Flow::parse(value)?,
        "dsize" => o.dsize = Some(Cmp::parse(value, 65535)?),
        "flags" => o.flags = Some(Flags::parse(value)?),
        "ttl" => o.ttl = Some(Cmp::parse(value, 255)?),
        "ip_proto" => o
            .ip_proto
            .push(Cmp::parse_with(value, 255, ip_proto_number)?),
        "itype" => o.itype = Some(Cmp::parse(value, 255)?),
        "icode" => o.icode = Some(Cmp::parse(value, 255)?),
        _ => return apply_more(o, name, value),
    }
    Ok(())
}

/// Sticky buffers, legacy modifiers and transforms (all without a
/// value); None when `name` is none of them.
fn apply_buffer(o: &mut Options, name: &str, has_value: bool) -> Option<Result<(), Apply>> {
    let what = if let Some(buf) = HttpBuf::sticky(name) {
        o.buffers.push(BufMatch::new(buf));
        o.cursor = Some(o.buffers.len() - 1);
        Ok(())
    } else if let Some(buf) = HttpBuf::modifier(name) {
        o.move_last_content(name, buf)
    } else if let Some(t) = Transform::from_name(name) {
        match o.cursor.map(|i| &mut o.buffers[i]) {
            Some(b) if b.matches.is_empty() => {
                b.transforms.push(t);
                Ok(())
            }
            Some(_) => Err(format!("'{name}' must come before the buffer's matches")),
            None => Err(format!("'{name}' needs a sticky buffer")),
        }
    } else {
        return None;
    };
    let what = match has_value {
        true => Err(format!("'{name}' takes no value")),
        false => what,
    };
    Some(what.map_err(Apply::Bad))
}

/// `urilen:[<>]N[<>M][,norm|raw]`: the comparison, and whether it reads
/// the raw URI.
fn parse_urilen(v: &str) -> Result<(super::packet::Cmp, bool), String> {
    let (num, raw) = match v.split_once(',') {
        Some((n, "raw")) | Some((n, " raw")) => (n, true),
        Some((n, k)) if k.trim() == "norm" => (n, false),
        Some((_, k)) => return Err(format!("bad urilen option '{}'", k.trim())),
        None => (v, false),
    };
    Ok((Cmp::parse(num, u32::MAX)?, raw))
}

/// The keywords added with the state, byte and header-field families.
fn apply_more(o: &mut Options, name: &str, value: &str) -> Result<(), Apply> {
    match name {
        "tcp.flags" => o.flags = Some(Flags::parse(value)?),
        "seq" => o.seq = Some(fields::parse_eq(value, u32::MAX)?),
        "ack" => o.ack = Some(fields::parse_eq(value, u32::MAX)?),
        "window" => o.window = Some(fields::parse_eq(value, 65535)?),
        "id" => o.ip_id = Some(fields::parse_eq(value, 65535)?),
        "fragbits" => o.fragbits = Some(Fragbits::parse(value)?),
        "fragoffset" => o.fragoffset = Some(Cmp::parse(value, 8191)?),
        "sameip" => o.sameip = true,
        "icmp_id" => o.icmp_id = Some(fields::parse_eq(value, 65535)?),
        "icmp_seq" => o.icmp_seq = Some(fields::parse_eq(value, 65535)?),
        "ipopts" => o.ipopts = Some(fields::parse_ipopts(value)?),
        "tcp.mss" => o.tcp_mss = Some(Cmp::parse(value, 65535)?),
        "stream_size" => o.stream_size = Some(StreamSize::parse(value)?),
        "decode-event" => o.events.push(fields::parse_event(value, "decoder.")?),
        "stream-event" => o.events.push(fields::parse_event(value, "stream.")?),
        "noalert" => o.noalert = true,
        "prefilter" => o.prefilter = true,
        "flowbits" => match flowvars::parse_flowbits(value)? {
            FlowbitsValue::NoAlert => o.noalert = true,
            FlowbitsValue::Op(b) => o.vars.push(VarOp::Bits(b)),
        },
        "flowint" => o.vars.push(VarOp::Int(flowvars::parse_flowint(value)?)),
        "xbits" => o.vars.push(VarOp::Xbits(flowvars::parse_xbits(value)?)),
        "threshold" => {
            if o.threshold
                .replace(threshold::parse_threshold(value)?)
                .is_some()
            {
                return Err("'threshold' given twice".to_string().into());
            }
        }
        "detection_filter" => {
            let f = threshold::parse_detection_filter(value)?;
            if o.detection_filter.replace(f).is_some() {
                return Err("'detection_filter' given twice".to_string().into());
            }
        }
        "byte_test" => {
            let t = bytes::parse_byte_test(value, &o.byte_vars)?;
            o.relative_list(t.ex.relative).push(Match::ByteTest(t));
        }
        "byte_jump" => {
            let j = bytes::parse_byte_jump(value, &o.byte_vars)?;
            o.relative_list(j.ex.relative).push(Match::ByteJump(j));
        }
        "byte_extract" => {
            let e = bytes::parse_byte_extract(value, &mut o.byte_vars)?;
            o.relative_list(e.ex.relative).push(Match::ByteExtract(e));
        }
        "byte_math" => {
            let m = bytes::parse_byte_math(value, &mut o.byte_vars)?;
            o.relative_list(m.ex.relative).push(Match::ByteMath(m));
        }
        "isdataat" => {
            let d = bytes::parse_isdataat(value, &o.byte_vars)?;
            o.relative_list(d.relative).push(Match::IsDataAt(d));
        }
        "bsize" => {
            // As in Suricata, bsize only means something on a buffer.
            let c = bytes::parse_bsize(value)?;
            if o.cursor.is_none() {
                return Err("bsize needs a sticky buffer".to_string().into());
            }
            o.current().push(Match::Bsize(c));
        }
        "urilen" => {
            let (cmp, raw) = parse_urilen(value)?;
            let buf = if raw { HttpBuf::UriRaw } else { HttpBuf::Uri };
            let i = o.plain_buffer(buf);
            o.buffers[i].matches.push(Match::Bsize(cmp));
        }
        "app-layer-protocol" => {
            let v = value.trim();
            let (neg, name) = match v.strip_prefix('!') {
                Some(n) => (true, n.trim()),
                None => (false, v),
            };
            if o.app_layer_protocol.is_some() {
                return Err("'app-layer-protocol' given twice".to_string().into());
            }
            o.app_layer_protocol = Some((neg, name.to_ascii_lowercase()));
        }
        "app-layer-event" => {
            let v = value.trim();
            let known = v
                .strip_prefix("http.")
                .and_then(crate::app::http::Anomaly::from_name);
            match known {
                Some(_) => o.app_events.push(v.to_string()),
                None => return Err(Apply::Unsupported(format!("app-layer-event:{v}"))),
            }
        }
        other => return Err(Apply::Unsupported(other.to_string())),
    }
    Ok(())
}

fn is_known(name: &str) -> bool {
    matches!(
        name,
        "msg"
            | "sid"
            | "gid"
            | "rev"
            | "classtype"
            | "priority"
            | "metadata"
            | "reference"
            | "tag"
            | "content"
            | "pcre"
            | "depth"
            | "offset"
            | "within"
            | "distance"
            | "flow"
            | "dsize"
            | "flags"
            | "ttl"
            | "ip_proto"
            | "itype"
            | "icode"
            | "tcp.flags"
            | "seq"
            | "ack"
            | "window"
            | "id"
            | "fragbits"
            | "fragoffset"
            | "icmp_id"
            | "icmp_seq"
            | "ipopts"
            | "tcp.mss"
            | "stream_size"
            | "decode-event"
            | "stream-event"
            | "flowbits"
            | "flowint"
            | "xbits"
            | "threshold"
            | "detection_filter"
            | "byte_test"
            | "byte_jump"
            | "byte_extract"
            | "byte_math"
            | "isdataat"
            | "bsize"
            | "uricontent"
            | "urilen"
            | "app-layer-protocol"
            | "app-layer-event"
    )
}

fn number(v: &str) -> Result<u32, String> {
    v.trim().parse().map_err(|_| format!("bad number '{v}'"))
}

fn positive(v: &str) -> Result<u32, String> {
    match number(v)? {
        0 => Err("must be 1 or more".into()),
        n => Ok(n),
    }
}

fn set_once(slot: &mut bool, name: &str) -> Result<(), String> {
    if std::mem::replace(slot, true) {
        return Err(format!("'{name}' given twice"));
    }
    Ok(())
}

fn parse_fast_pattern(v: &str) -> Result<FastPattern, String> {
    let v = v.trim();
    if v.is_empty() {
        return Ok(FastPattern::Yes);
    }
    if v == "only" {
        return Ok(FastPattern::Only);
    }
    let (o, l) = v
        .split_once(',')
        .ok_or_else(|| format!("bad fast_pattern value '{v}'"))?;
    let n = |s: &str| {
        s.trim()
            .parse::<u16>()
            .map_err(|_| format!("bad number '{s}'"))
    };
    Ok(FastPattern::Chop {
        offset: n(o)?,
        len: n(l)?,
    })
}

/// Checks that need the whole option list: conflicts between a
/// content's modifiers, and at most one fast pattern.
fn check(o: &Options) -> Result<(), RuleError> {
    let bad = |what: String, k: &str| Err(RuleError::malformed(what).keyword(k));
    let mut fast_patterns = 0;
    let lists = std::iter::once(&o.matches).chain(o.buffers.iter().map(|b| &b.matches));
    for m in lists.flatten() {
        let Match::Content(c) = m else { continue };
        let len = c.pattern.len();
        if c.is_relative() && c.is_absolute() {
            return bad(
                "offset/depth mixed with distance/within on one content".into(),
                "depth",
            );
        }
        if c.startswith && (c.is_absolute() || c.is_relative()) {
            return bad(
                "startswith mixed with offset/depth/distance/within".into(),
                "startswith",
            );
        }
        if c.depth.is_some_and(|d| (d as usize) < len) {
            return bad(
                format!("depth is shorter than the content ({len} bytes)"),
                "depth",
            );
        }
        if c.within.is_some_and(|w| (w as usize) < len) {
            return bad(
                format!("within is shorter than the content ({len} bytes)"),
                "within",
            );
        }
        if let Some(fp) = c.fast_pattern {
            fast_patterns += 1;
            if let FastPattern::Chop { offset, len: l } = fp {
                if l == 0 || usize::from(offset) + usize::from(l) > len {
                    return bad(
                        "fast_pattern slice lies outside the content".into(),
                        "fast_pattern",
                    );
                }
            }
        }
    }
    if fast_patterns > 1 {
        return bad("more than one fast_pattern".into(), "fast_pattern");
    }
    // A transaction is judged on the request or on the response; a
    // rule whose buffers and flow direction disagree could never match.
    use super::buffers::Side;
    let has = |side| o.buffers.iter().any(|b| b.buf.side() == side);
    let conflict = match o.flow.to_server {
        Some(true) => has(Side::Response),
        Some(false) => has(Side::Request) && !has(Side::Response),
        None => false,
    };
    if conflict {
        return bad("flow direction contradicts the HTTP buffers".into(), "flow");
    }
    Ok(())
}
