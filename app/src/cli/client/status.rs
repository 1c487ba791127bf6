//! Text rendering of what the store returns: the channel map as `depot status` shows it (the
//! `snap info` / `snapcraft status` layout), revision lists and plain aligned tables. Pure
//! functions of JSON values, unit-tested here.

use std::collections::HashMap;

use serde_json::Value;

use crate::domain::{Channel, Namespace, Risk};

/// Shown in Version and Revision where a risk has nothing released but follows a more stable
/// open risk of its track.
pub const FOLLOWS: &str = "↑";
/// Shown where nothing is open at this risk or any more stable one.
pub const CLOSED: &str = "–";

/// `text` with every control character but newlines and tabs written out as `\u00XX`: what
/// a store returns reaches the terminal, where an escape sequence in a package's summary
/// could retitle the window, clear the screen or recolour what follows. (In JSON output the
/// form is a valid string escape.)
pub fn printable(text: &str) -> std::borrow::Cow<'_, str> {
    let unsafe_char = |c: char| c.is_control() && c != '\n' && c != '\t';
    if !text.contains(unsafe_char) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if unsafe_char(c) {
            out.push_str(&format!("\\u{:04x}", c as u32));
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Columns separated by two spaces, each as wide as its widest cell; trailing spaces trimmed.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let columns = header.len();
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate().take(columns) {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let header: Vec<String> = header.iter().map(|h| h.to_string()).collect();
    for row in std::iter::once(&header).chain(rows) {
        let mut line = String::new();
        for (i, width) in widths.iter().enumerate() {
            let cell = row.get(i).map(String::as_str).unwrap_or("");
            if i > 0 {
                line.push_str("  ");
            }
            line.push_str(cell);
            let pad = width.saturating_sub(cell.chars().count());
            line.extend(std::iter::repeat_n(' ', pad));
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// One entry of the channel map: a revision open on a channel for one platform.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub channel: Channel,
    /// An architecture (`amd64`, `all`) for snaps, `ubuntu@22.04/amd64` for charms.
    pub platform: String,
    pub revision: u32,
    pub version: String,
    /// Branches only: when the branch closes, `YYYY-MM-DDTHH:MM:SSZ`.
    pub expires: Option<String>,
}

/// What `depot status` shows.
#[derive(Clone, Debug, PartialEq)]
pub struct ChannelMap {
    pub namespace: Namespace,
    /// Tracks in the store's order.
    pub tracks: Vec<String>,
    pub entries: Vec<Entry>,
}

fn str_field<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    value.get(key).and_then(Value::as_str)
}

/// `2026-05-01T12:00:00.123456Z` → `2026-05-01T12:00:00Z`.
pub fn short_time(raw: &str) -> String {
    match chrono::DateTime::parse_from_rfc3339(raw) {
        Ok(t) => t
            .with_timezone(&chrono::Utc)
            .format("%Y-%m-%dT%H:%M:%SZ")
            .to_string(),
        Err(_) => raw.to_string(),
    }
}

/// A charm base (`{"name", "channel", "architecture"}`) as `ubuntu@22.04/amd64`.
pub fn base_label(base: &Value) -> Option<String> {
    Some(format!(
        "{}@{}/{}",
        str_field(base, "name")?,
        str_field(base, "channel")?,
        str_field(base, "architecture")?
    ))
}

/// Reads the answer of `GET /v1/{ns}/{name}/releases`.
pub fn channel_map_from_releases(namespace: Namespace, body: &Value) -> Result<ChannelMap, String> {
    let versions: HashMap<u64, String> = body
        .get("revisions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|r| {
            Some((
                r.get("revision")?.as_u64()?,
                str_field(r, "version").unwrap_or_default().to_string(),
            ))
        })
        .collect();
    let mut entries = Vec::new();
    let list = body
        .get("channel-map")
        .and_then(Value::as_array)
        .ok_or("the answer has no channel-map")?;
    for item in list {
        let name = str_field(item, "channel").ok_or("a channel-map entry has no channel")?;
        let channel =
            Channel::parse(name).map_err(|e| format!("channel-map entry {name:?}: {e}"))?;
        let Some(revision) = item.get("revision").and_then(Value::as_u64) else {
            continue; // nothing open there
        };
        let platform = match namespace {
            Namespace::Snap => str_field(item, "architecture").unwrap_or("all").to_string(),
            Namespace::Charm => item
                .get("base")
                .and_then(base_label)
                .unwrap_or_else(|| "all".to_string()),
        };
        entries.push(Entry {
            channel,
            platform,
            revision: u32::try_from(revision).map_err(|_| "revision out of range")?,
            version: versions.get(&revision).cloned().unwrap_or_default(),
            expires: str_field(item, "expiration-date").map(short_time),
        });
    }
    let mut tracks: Vec<String> = Vec::new();
    let listed = body
        .pointer("/package/channels")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|c| str_field(c, "track"));
    let mut extra: Vec<&str> = entries.iter().map(|e| e.channel.track.as_str()).collect();
    extra.sort_unstable();
    for track in listed.chain(extra) {
        if !tracks.iter().any(|t| t == track) {
            tracks.push(track.to_string());
        }
    }
    Ok(ChannelMap {
        namespace,
        tracks,
        entries,
    })
}

/// The `depot status` table: for each track with something released and each platform on it,
/// the four risks from stable to edge, branches after their risk. `None` when nothing is
/// released at all.
pub fn render_status(map: &ChannelMap) -> Option<String> {
    if map.entries.is_empty() {
        return None;
    }
    let platform_header = match map.namespace {
        Namespace::Snap => "Arch",
        Namespace::Charm => "Base",
    };
    let mut rows: Vec<Vec<String>> = Vec::new();
    for track in &map.tracks {
        let on_track: Vec<&Entry> = map
            .entries
            .iter()
            .filter(|e| &e.channel.track == track)
            .collect();
        let mut platforms: Vec<&str> = on_track.iter().map(|e| e.platform.as_str()).collect();
        platforms.sort_unstable();
        platforms.dedup();
        for (p, platform) in platforms.iter().enumerate() {
            let here: Vec<&&Entry> = on_track
                .iter()
                .filter(|e| &e.platform == platform)
                .collect();
            let mut open_above = false;
            for (r, risk) in Risk::ALL.into_iter().enumerate() {
                let open = here
                    .iter()
                    .find(|e| e.channel.risk == risk && e.channel.branch.is_none());
                let (version, revision) = match open {
                    Some(e) => (e.version.clone(), e.revision.to_string()),
                    None if open_above => (FOLLOWS.to_string(), FOLLOWS.to_string()),
                    None => (CLOSED.to_string(), CLOSED.to_string()),
                };
                open_above |= open.is_some();
                let first = r == 0;
                rows.push(vec![
                    if first && p == 0 {
                        track.clone()
                    } else {
                        String::new()
                    },
                    if first {
                        platform.to_string()
                    } else {
                        String::new()
                    },
                    risk.as_str().to_string(),
                    version,
                    revision,
                    String::new(),
                ]);
                let mut branches: Vec<&&&Entry> = here
                    .iter()
                    .filter(|e| e.channel.risk == risk && e.channel.branch.is_some())
                    .collect();
                branches.sort_by(|a, b| a.channel.branch.cmp(&b.channel.branch));
                for e in branches {
                    rows.push(vec![
                        String::new(),
                        String::new(),
                        format!(
                            "{}/{}",
                            risk.as_str(),
                            e.channel.branch.as_deref().unwrap_or_default()
                        ),
                        e.version.clone(),
                        e.revision.to_string(),
                        e.expires.clone().unwrap_or_default(),
                    ]);
                }
            }
        }
    }
    Some(table(
        &[
            "Track",
            platform_header,
            "Channel",
            "Version",
            "Revision",
            "Expires",
        ],
        &rows,
    ))
}

/// The `depot revisions` table from `GET /v1/{ns}/{name}/revisions`, newest first.
pub fn render_revisions(namespace: Namespace, body: &Value) -> String {
    let rows: Vec<Vec<String>> = body
        .get("revisions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|r| {
            let platforms: Vec<String> = match namespace {
                Namespace::Snap => r
                    .get("architectures")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect(),
                Namespace::Charm => r
                    .get("bases")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(base_label)
                    .collect(),
            };
            vec![
                r.get("revision")
                    .and_then(Value::as_u64)
                    .map(|n| n.to_string())
                    .unwrap_or_default(),
                str_field(r, "version").unwrap_or_default().to_string(),
                str_field(r, "created-at")
                    .map(short_time)
                    .unwrap_or_default(),
                str_field(r, "status").unwrap_or_default().to_string(),
                platforms.join(", "),
            ]
        })
        .collect();
    let platform_header = match namespace {
        Namespace::Snap => "Arch",
        Namespace::Charm => "Bases",
    };
    table(
        &["Revision", "Version", "Created", "Status", platform_header],
        &rows,
    )
}

/// The `depot info` text from the public info answer of a snap or a charm.
pub fn render_info(namespace: Namespace, body: &Value) -> String {
    let details = match namespace {
        Namespace::Snap => body.get("snap"),
        Namespace::Charm => body.get("result"),
    }
    .cloned()
    .unwrap_or(Value::Null);
    let text = |key: &str| {
        str_field(&details, key)
            .map(str::trim)
            .filter(|s| !s.is_empty())
    };
    let publisher = details.get("publisher").and_then(|p| {
        str_field(p, "display-name")
            .filter(|s| !s.is_empty())
            .or_else(|| str_field(p, "username"))
    });
    let mut fields: Vec<(&str, String)> = vec![
        (
            "name",
            str_field(body, "name").unwrap_or_default().to_string(),
        ),
        ("type", namespace.as_str().to_string()),
    ];
    for (label, value) in [
        ("title", text("title")),
        ("summary", text("summary")),
        ("publisher", publisher),
        ("license", text("license")),
        ("website", text("website")),
    ] {
        if let Some(value) = value {
            fields.push((label, value.to_string()));
        }
    }
    let width = fields
        .iter()
        .map(|(l, _)| l.len() + 1)
        .max()
        .unwrap_or(0)
        .max("description:".len());
    let mut out = String::new();
    for (label, value) in &fields {
        out.push_str(&format!("{:<width$} {value}\n", format!("{label}:")));
    }
    if let Some(description) = text("description") {
        out.push_str("description: |\n");
        for line in description.lines() {
            if line.trim().is_empty() {
                out.push('\n');
            } else {
                out.push_str(&format!("  {}\n", line.trim_end()));
            }
        }
    }
    let rows: Vec<Vec<String>> = body
        .get("channel-map")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|entry| info_row(namespace, entry))
        .collect();
    if rows.is_empty() {
        out.push_str("channels: none open\n");
    } else {
        out.push_str("channels:\n");
        let platform_header = match namespace {
            Namespace::Snap => "Arch",
            Namespace::Charm => "Base",
        };
        let rendered = table(
            &[
                "Channel",
                platform_header,
                "Version",
                "Revision",
                "Released",
            ],
            &rows,
        );
        for line in rendered.lines() {
            out.push_str(&format!("  {line}\n"));
        }
    }
    out
}

fn info_row(namespace: Namespace, entry: &Value) -> Vec<String> {
    let channel = entry.get("channel").cloned().unwrap_or(Value::Null);
    let track = str_field(&channel, "track").unwrap_or("latest");
    let name = str_field(&channel, "name").unwrap_or_default();
    // Snaps name channels the short way (`edge`), charms in full (`latest/edge`).
    let full = if name.starts_with(&format!("{track}/")) {
        name.to_string()
    } else {
        format!("{track}/{name}")
    };
    let (platform, revision) = match namespace {
        Namespace::Snap => (
            str_field(&channel, "architecture")
                .unwrap_or_default()
                .to_string(),
            entry.clone(),
        ),
        Namespace::Charm => (
            channel.get("base").and_then(base_label).unwrap_or_default(),
            entry.get("revision").cloned().unwrap_or(Value::Null),
        ),
    };
    vec![
        full,
        platform,
        str_field(&revision, "version")
            .unwrap_or_default()
            .to_string(),
        revision
            .get("revision")
            .and_then(Value::as_u64)
            .map(|n| n.to_string())
            .unwrap_or_default(),
        str_field(&channel, "released-at")
            .map(short_time)
            .unwrap_or_default(),
    ]
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn entry(channel: &str, platform: &str, revision: u32, version: &str) -> Entry {
        Entry {
            channel: Channel::parse(channel).unwrap(),
            platform: platform.to_string(),
            revision,
            version: version.to_string(),
            expires: None,
        }
    }

    #[test]
    fn control_characters_are_written_out() {
        assert_eq!(printable("plain\n\ttext"), "plain\n\ttext");
        assert_eq!(
            printable("hi \u{1b}]0;pwned\u{7} \u{1b}[2J\r\u{9b}\u{7f}"),
            "hi \\u001b]0;pwned\\u0007 \\u001b[2J\\u000d\\u009b\\u007f"
        );
        // Still JSON.
        let json = serde_json::to_string(&serde_json::json!({"s": "a\u{9b}b"})).unwrap();
        let back: serde_json::Value = serde_json::from_str(&printable(&json)).unwrap();
        assert_eq!(back["s"], "a\u{9b}b");
    }

    #[test]
    fn tables_align_with_plain_spaces() {
        let out = table(
            &["A", "Bee", "C"],
            &[
                vec!["long-cell".into(), "x".into(), "".into()],
                vec!["".into(), "↑".into(), "z".into()],
            ],
        );
        assert_eq!(out, "A          Bee  C\nlong-cell  x\n           ↑    z\n");
    }

    #[test]
    fn risks_follow_or_close() {
        let map = ChannelMap {
            namespace: Namespace::Snap,
            tracks: vec!["latest".into()],
            entries: vec![entry("latest/candidate", "amd64", 3, "1.2")],
        };
        assert_eq!(
            render_status(&map).unwrap(),
            "\
Track   Arch   Channel    Version  Revision  Expires
latest  amd64  stable     –        –
               candidate  1.2      3
               beta       ↑        ↑
               edge       ↑        ↑
"
        );
    }

    #[test]
    fn tracks_platforms_and_branches() {
        let mut branch = entry("2.0/edge/fix-1", "arm64", 9, "2.0.1");
        branch.expires = Some("2026-01-02T03:04:05Z".into());
        let map = ChannelMap {
            namespace: Namespace::Snap,
            tracks: vec!["latest".into(), "2.0".into(), "3.0".into()],
            entries: vec![
                entry("latest/stable", "amd64", 1, "1.0"),
                entry("latest/stable", "arm64", 2, "1.0"),
                entry("latest/edge", "arm64", 4, "1.1"),
                entry("2.0/beta", "arm64", 8, "2.0"),
                branch,
            ],
        };
        assert_eq!(
            render_status(&map).unwrap(),
            "\
Track   Arch   Channel     Version  Revision  Expires
latest  amd64  stable      1.0      1
               candidate   ↑        ↑
               beta        ↑        ↑
               edge        ↑        ↑
        arm64  stable      1.0      2
               candidate   ↑        ↑
               beta        ↑        ↑
               edge        1.1      4
2.0     arm64  stable      –        –
               candidate   –        –
               beta        2.0      8
               edge        ↑        ↑
               edge/fix-1  2.0.1    9         2026-01-02T03:04:05Z
"
        );
    }

    #[test]
    fn nothing_released() {
        let map = ChannelMap {
            namespace: Namespace::Charm,
            tracks: vec!["latest".into()],
            entries: vec![],
        };
        assert_eq!(render_status(&map), None);
    }

    #[test]
    fn reads_the_releases_answer_of_a_charm() {
        let body = json!({
            "channel-map": [
                {"channel": "latest/beta", "revision": 2, "expiration-date": null,
                 "base": {"name": "ubuntu", "channel": "22.04", "architecture": "amd64"}},
                {"channel": "latest/edge/hotfix", "revision": 1,
                 "expiration-date": "2026-03-01T10:00:00.123456Z",
                 "base": {"name": "ubuntu", "channel": "22.04", "architecture": "amd64"}},
            ],
            "package": {"channels": [
                {"name": "latest/stable", "track": "latest"},
                {"name": "latest/edge", "track": "latest"},
            ]},
            "revisions": [{"revision": 1, "version": "0.9"}, {"revision": 2, "version": "1.0"}],
        });
        let map = channel_map_from_releases(Namespace::Charm, &body).unwrap();
        assert_eq!(map.tracks, vec!["latest".to_string()]);
        assert_eq!(map.entries[1].platform, "ubuntu@22.04/amd64");
        assert_eq!(
            map.entries[1].expires.as_deref(),
            Some("2026-03-01T10:00:00Z")
        );
        assert_eq!(
            render_status(&map).unwrap(),
            "\
Track   Base                Channel      Version  Revision  Expires
latest  ubuntu@22.04/amd64  stable       –        –
                            candidate    –        –
                            beta         1.0      2
                            edge         ↑        ↑
                            edge/hotfix  0.9      1         2026-03-01T10:00:00Z
"
        );
        assert!(channel_map_from_releases(Namespace::Charm, &json!({})).is_err());
    }

    #[test]
    fn revisions_table() {
        let body = json!({"revisions": [
            {"revision": 2, "version": "1.1", "created-at": "2026-01-01T00:00:00.5Z",
             "status": "released", "bases": [{"name": "ubuntu", "channel": "22.04", "architecture": "amd64"}]},
            {"revision": 1, "version": "1.0", "created-at": "2025-12-31T00:00:00Z",
             "status": "approved", "bases": []},
        ]});
        assert_eq!(
            render_revisions(Namespace::Charm, &body),
            "\
Revision  Version  Created               Status    Bases
2         1.1      2026-01-01T00:00:00Z  released  ubuntu@22.04/amd64
1         1.0      2025-12-31T00:00:00Z  approved
"
        );
    }

    #[test]
    fn info_text_of_a_snap() {
        let body = json!({
            "name": "hello", "snap-id": "x",
            "snap": {"summary": "Says hello", "description": "Line one.\n\nLine two.\n",
                     "publisher": {"username": "alice", "display-name": "Alice"}, "license": "MIT",
                     "title": "hello", "website": null},
            "channel-map": [
                {"channel": {"architecture": "all", "name": "beta", "risk": "beta", "track": "latest",
                             "released-at": "2026-01-01T00:00:00.000001Z"},
                 "revision": 1, "version": "1.0"},
            ],
        });
        assert_eq!(
            render_info(Namespace::Snap, &body),
            "\
name:        hello
type:        snap
title:       hello
summary:     Says hello
publisher:   Alice
license:     MIT
description: |
  Line one.

  Line two.
channels:
  Channel      Arch  Version  Revision  Released
  latest/beta  all   1.0      1         2026-01-01T00:00:00Z
"
        );
    }
}
