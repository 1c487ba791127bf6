//! The engine on a small catalog: exact name first, typos, prefixes, filters, popularity and
//! incremental updates.

use super::*;

fn doc(id: &str, name: &str, title: &str, summary: &str, description: &str) -> SearchDoc {
    SearchDoc {
        id: id.into(),
        namespace: Some(Namespace::Snap),
        name: name.into(),
        title: title.into(),
        summary: summary.into(),
        description: description.into(),
        publisher: "pub".into(),
        kinds: vec!["app".into()],
        architectures: vec!["amd64".into()],
        channels: vec!["stable".into(), "latest/stable".into()],
        confinements: vec!["strict".into()],
        ..SearchDoc::default()
    }
}

fn catalog() -> Vec<SearchDoc> {
    let mut docs = vec![
        doc(
            "1",
            "inkscape",
            "Inkscape",
            "Vector graphics editor",
            "Draw SVG illustrations.",
        ),
        doc(
            "2",
            "gimp",
            "GIMP",
            "Image manipulation program",
            "Edit photos and images.",
        ),
        doc(
            "3",
            "gimp-help",
            "GIMP help",
            "Documentation for the GIMP image editor",
            "gimp gimp gimp gimp manual",
        ),
        doc(
            "4",
            "kdenlive",
            "Kdenlive",
            "Video editor",
            "Non-linear video editing.",
        ),
        doc(
            "5",
            "thunderbird",
            "Thunderbird",
            "Email client",
            "Mail and news.",
        ),
        doc(
            "6",
            "video-trimmer",
            "Video Trimmer",
            "Trim videos quickly",
            "A video tool.",
        ),
        doc(
            "7",
            "vlc",
            "VLC",
            "Multimedia player",
            "Plays video and music.",
        ),
        doc(
            "8",
            "vlc-plugin-extra",
            "VLC extra plugins",
            "Plugins for vlc, the vlc player",
            "vlc vlc vlc vlc vlc",
        ),
    ];
    docs[6].architectures = vec!["arm64".into()];
    docs[6].categories = vec!["AudioVideo".into()];
    docs[1].confinements = vec!["classic".into()];
    docs[1].channels = vec!["edge".into(), "latest/edge".into()];
    docs[4].namespace = Some(Namespace::Charm);
    docs[4].publisher = "mozilla".into();
    docs
}

fn names(index: &SearchIndex, q: SearchQuery) -> Vec<String> {
    index
        .search(&SearchQuery { limit: 10, ..q })
        .unwrap()
        .hits
        .into_iter()
        .map(|h| h.name.to_string())
        .collect()
}

fn text(t: &str) -> SearchQuery {
    SearchQuery {
        text: t.into(),
        ..SearchQuery::default()
    }
}

#[test]
fn exact_name_comes_first_even_against_repeated_terms() {
    let index = SearchIndex::build(catalog()).unwrap();
    assert_eq!(names(&index, text("vlc"))[0], "vlc");
    assert_eq!(names(&index, text("GIMP"))[0], "gimp");
    assert_eq!(names(&index, text("video trimmer"))[0], "video-trimmer");
}

#[test]
fn a_misspelt_name_still_finds_it_first() {
    let index = SearchIndex::build(catalog()).unwrap();
    assert_eq!(names(&index, text("inksape"))[0], "inkscape");
    assert_eq!(names(&index, text("thunderbrid"))[0], "thunderbird");
    assert_eq!(names(&index, text("kdenlvie"))[0], "kdenlive");
}

#[test]
fn a_prefix_finds_the_name_as_you_type() {
    let index = SearchIndex::build(catalog()).unwrap();
    assert_eq!(names(&index, text("kden"))[0], "kdenlive");
    assert_eq!(names(&index, text("thund"))[0], "thunderbird");
    assert_eq!(names(&index, text("inks"))[0], "inkscape");
}

#[test]
fn words_are_found_in_summaries_with_stemming() {
    let index = SearchIndex::build(catalog()).unwrap();
    // "editors" finds "editor" in kdenlive's summary, and both words rank it near the top.
    let found = names(&index, text("video editors"));
    assert!(found[..2].contains(&"kdenlive".to_string()), "{found:?}");
    assert!(!names(&index, text("zebra")).iter().any(|n| n == "gimp"));
    assert!(names(&index, text("zebra")).is_empty());
}

#[test]
fn an_agent_noun_finds_packages_that_use_its_verb() {
    let docs = vec![
        doc(
            "1",
            "wavecut",
            "Wavecut",
            "Record and edit audio files",
            "Cut, mix and clean up sound recordings.",
        ),
        doc(
            "2",
            "tagger",
            "Tagger",
            "Audio file tags",
            "Reads the tags of audio files.",
        ),
        doc(
            "3",
            "scribe",
            "Scribe",
            "Text editor",
            "An editor for plain text.",
        ),
        doc(
            "4",
            "folio",
            "Folio",
            "View and annotate PDF documents",
            "A document viewer's lighter cousin.",
        ),
        doc(
            "5",
            "pdfjoin",
            "PDF join",
            "Join PDF files",
            "Merges PDF documents.",
        ),
        doc(
            "6",
            "harbour",
            "Harbour",
            "Dock windows to the screen edge",
            "A panel.",
        ),
    ];
    let index = SearchIndex::build(docs).unwrap();
    // `editor` is stemmed apart from `edit`: the audio package that edits comes before the one
    // that only reads audio, and the text editor, with one word of two, after it.
    let found = names(&index, text("audio editor"));
    assert_eq!(found[0], "wavecut", "{found:?}");
    assert!(
        found.iter().position(|n| n == "wavecut") < found.iter().position(|n| n == "tagger"),
        "{found:?}"
    );
    // `viewer` → `view`.
    assert_eq!(names(&index, text("pdf viewer"))[0], "folio");
    // The noun itself still counts most: a package calling itself an editor comes first.
    assert_eq!(names(&index, text("editor"))[0], "scribe");
    // A word alone is not widened: it is often a name, or a noun that only looks like an agent
    // noun (`docker`, `counter`, `timer`).
    assert!(names(&index, text("docker")).is_empty());
}

#[test]
fn filters_restrict_results() {
    let index = SearchIndex::build(catalog()).unwrap();
    let q = |f: fn(&mut SearchQuery)| {
        let mut q = text("video");
        f(&mut q);
        names(&index, q)
    };
    assert!(q(|_| {}).contains(&"vlc".to_string()));
    assert!(!q(|q| q.architecture = Some("amd64".into())).contains(&"vlc".to_string()));
    assert!(q(|q| q.architecture = Some("arm64".into())).contains(&"vlc".to_string()));
    assert_eq!(q(|q| q.category = Some("audiovideo".into())), vec!["vlc"]);
    // Confinement, channel, namespace and publisher.
    let classic = names(
        &index,
        SearchQuery {
            confinements: vec!["classic".into()],
            ..text("gimp")
        },
    );
    assert_eq!(classic, vec!["gimp"]);
    let stable = names(
        &index,
        SearchQuery {
            channel: Some("stable".into()),
            ..text("gimp")
        },
    );
    assert_eq!(stable, vec!["gimp-help"]);
    let charms = names(
        &index,
        SearchQuery {
            namespace: Some(Namespace::Charm),
            ..SearchQuery::default()
        },
    );
    assert_eq!(charms, vec!["thunderbird"]);
    let by_publisher = names(
        &index,
        SearchQuery {
            publisher: Some("Mozilla".into()),
            ..SearchQuery::default()
        },
    );
    assert_eq!(by_publisher, vec!["thunderbird"]);
    let prefixed = names(
        &index,
        SearchQuery {
            name_prefix: Some("vlc".into()),
            ..SearchQuery::default()
        },
    );
    assert_eq!(prefixed.len(), 2);
}

#[test]
fn popularity_breaks_near_ties() {
    let mut docs = vec![
        doc("a", "alpha-player", "", "A music player", ""),
        doc("b", "beta-player", "", "A music player", ""),
    ];
    docs.push(doc("c", "gamma-player", "", "A music player", ""));
    let index = SearchIndex::build(docs).unwrap();
    assert_eq!(names(&index, text("music player"))[0], "alpha-player");
    index.set_popularity([("c".to_string(), 1000.0)].into());
    assert_eq!(names(&index, text("music player"))[0], "gamma-player");
    // With no text, the most popular comes first.
    assert_eq!(names(&index, SearchQuery::default())[0], "gamma-player");
    // A package filed again (a new release) keeps its popularity, and one added later gets its
    // own from the signal already set.
    index
        .apply(vec![
            (
                "c".into(),
                Some(doc("c", "gamma-player", "", "A music player", "")),
            ),
            (
                "d".into(),
                Some(doc("d", "delta-player", "", "A music player", "")),
            ),
        ])
        .unwrap();
    assert_eq!(names(&index, text("music player"))[0], "gamma-player");
    index.set_popularity([("c".to_string(), 10.0), ("d".to_string(), 5000.0)].into());
    assert_eq!(
        names(&index, text("music player"))[..2],
        ["delta-player", "gamma-player"]
    );
    // A package the new signal leaves out counts as never downloaded.
    index.set_popularity([("a".to_string(), 3.0)].into());
    assert_eq!(names(&index, text("music player"))[0], "alpha-player");
}

/// `n` packages with the same text, filed in the reverse order of their names.
fn alike(n: usize) -> Vec<SearchDoc> {
    (0..n)
        .rev()
        .map(|i| {
            doc(
                &format!("id-{i:04}"),
                &format!("pkg-{i:04}"),
                "",
                "A music player",
                "Plays music.",
            )
        })
        .collect()
}

#[test]
fn with_no_text_every_match_is_ranked_not_only_the_first_filed() {
    // More matches than the deepest page: the order is still over all of them.
    let index = SearchIndex::build(alike(1500)).unwrap();
    assert_eq!(
        names(&index, SearchQuery::default())[..2],
        ["pkg-0000", "pkg-0001"],
        "with no downloads at all, by name"
    );
    index.set_popularity([("id-0007".to_string(), 10.0), ("id-1200".to_string(), 20.0)].into());
    assert_eq!(
        names(&index, SearchQuery::default())[..3],
        ["pkg-1200", "pkg-0007", "pkg-0000"]
    );
}

#[test]
fn filters_narrow_without_ranking() {
    // Half the packages have one category, half two: a category filter must not rank the
    // first half above the second (as BM25 over the category field would), with or without
    // text.
    let docs: Vec<SearchDoc> = alike(400)
        .into_iter()
        .enumerate()
        .map(|(i, mut d)| {
            d.categories = if i % 2 == 0 {
                vec!["games".into()]
            } else {
                vec!["games".into(), "puzzle".into()]
            };
            d
        })
        .collect();
    let index = SearchIndex::build(docs).unwrap();
    let by_category = |text: &str| SearchQuery {
        text: text.into(),
        category: Some("games".into()),
        limit: 5,
        ..SearchQuery::default()
    };
    // Without downloads, by name.
    assert_eq!(
        names(&index, by_category(""))[..2],
        ["pkg-0000", "pkg-0001"]
    );
    assert_eq!(
        names(&index, by_category("music player"))[..2],
        ["pkg-0000", "pkg-0001"]
    );
    index.set_popularity([("id-0399".to_string(), 9.0), ("id-0398".to_string(), 8.0)].into());
    assert_eq!(
        names(&index, by_category(""))[..2],
        ["pkg-0399", "pkg-0398"]
    );
    assert_eq!(
        names(&index, by_category("music player"))[..2],
        ["pkg-0399", "pkg-0398"]
    );
}

#[test]
fn popularity_decides_among_text_ties_past_the_candidate_cut() {
    // 300 packages score alike for `music player`; the most downloaded wins, wherever it
    // was filed, and equal ones come by name.
    let index = SearchIndex::build(alike(300)).unwrap();
    assert_eq!(
        names(&index, text("music player"))[..2],
        ["pkg-0000", "pkg-0001"]
    );
    index.set_popularity([("id-0250".to_string(), 5.0)].into());
    assert_eq!(names(&index, text("music player"))[0], "pkg-0250");
    // A page deep in the ties is the same slice of the same order.
    let all = index
        .search(&SearchQuery {
            limit: 300,
            ..text("music player")
        })
        .unwrap();
    assert_eq!(all.total, 300);
    assert_eq!(all.hits.len(), 300);
    let page = index
        .search(&SearchQuery {
            offset: 240,
            limit: 20,
            ..text("music player")
        })
        .unwrap();
    assert_eq!(page.hits, all.hits[240..260].to_vec());
}

#[test]
fn updates_replace_and_remove_documents() {
    let index = SearchIndex::build(catalog()).unwrap();
    assert_eq!(index.len(), 8);
    let mut renamed = doc("4", "kdenlive", "Kdenlive", "Film cutter", "");
    renamed.channels = vec!["beta".into()];
    index
        .apply(vec![("4".into(), Some(renamed)), ("7".into(), None)])
        .unwrap();
    assert_eq!(index.len(), 7);
    assert!(!names(&index, text("vlc")).contains(&"vlc".to_string()));
    assert_eq!(names(&index, text("film cutter"))[0], "kdenlive");
    assert!(
        !names(&index, text("video editor")).contains(&"kdenlive".to_string()),
        "the old text is gone"
    );
    index
        .apply(vec![(
            "9".into(),
            Some(doc("9", "zebra", "", "Stripes", "")),
        )])
        .unwrap();
    assert_eq!(names(&index, text("zebra")), vec!["zebra"]);
}

#[test]
fn paging_and_totals() {
    let index = SearchIndex::build(catalog()).unwrap();
    let all = index
        .search(&SearchQuery {
            text: "video".into(),
            limit: 100,
            ..SearchQuery::default()
        })
        .unwrap();
    let page = index
        .search(&SearchQuery {
            text: "video".into(),
            offset: 1,
            limit: 1,
            ..SearchQuery::default()
        })
        .unwrap();
    assert_eq!(page.total, all.total);
    assert_eq!(page.hits, all.hits[1..2].to_vec());
}

#[test]
fn edit_distance_counts_transpositions_once() {
    assert_eq!(edit_distance("thunderbrid", "thunderbird", 2), Some(1));
    assert_eq!(edit_distance("inksape", "inkscape", 1), Some(1));
    assert_eq!(edit_distance("abc", "xyz", 1), None);
    // Characters, not bytes, outside ASCII; words longer than the rows kept on the stack.
    assert_eq!(edit_distance("café", "cafe", 1), Some(1));
    assert_eq!(edit_distance("naïve", "niave", 2), Some(2));
    let long = "a".repeat(60);
    assert_eq!(
        edit_distance(&format!("{long}bc"), &format!("{long}cb"), 1),
        Some(1)
    );
    assert_eq!(edit_distance(&format!("{long}b"), &long, 0), None);
    assert_eq!(canonical_name(" Video  Trimmer "), "video-trimmer");
}

/// A document with keywords, CamelCase categories, a publisher, and words that stem,
/// capitalise or carry accents and apostrophes.
fn git_client(description: String) -> SearchDoc {
    SearchDoc {
        keywords: vec!["Version Control".into(), "git".into()],
        categories: vec!["TerminalEmulator".into(), "Development".into()],
        publisher: "Git Devs".into(),
        ..doc(
            "x",
            "git-client",
            "Git Client: running clients",
            "Über-fast editors' GitHubClient",
            &description,
        )
    }
}

/// The term and pair sets re-ranking reads are the hashes of what the stemming analyser makes
/// of each text (pairs within each text, and only among the description's opening words), the
/// stems' cache notwithstanding.
#[test]
fn term_and_pair_sets_are_the_stems_of_each_text() {
    let index = SearchIndex::build(Vec::new()).unwrap();
    let mut analyzers = Analyzers::of(&index.index, &index.f).unwrap();
    let mut reference = Analyzers::of(&index.index, &index.f).unwrap();
    let long: Vec<String> = (0..70).map(|i| format!("word{} running", i % 30)).collect();
    let mut docs = catalog();
    docs.push(git_client(long.join(" ")));
    for doc in &docs {
        let (info, _) = SearchIndex::prepare(&mut analyzers, &index.f, doc);
        let texts = [&doc.name, &doc.title, &doc.summary, &doc.description]
            .into_iter()
            .cloned()
            .chain(doc.keywords.iter().cloned())
            .chain(doc.categories.iter().map(|c| split_camel_case(c)));
        let (mut terms, mut pairs) = (Vec::new(), Vec::new());
        for (i, text) in texts.enumerate() {
            let mut stems = tokens(&mut reference.stem, &text);
            terms.extend(stems.iter().map(|w| term_hash(w)));
            if i == 3 {
                stems.truncate(DESCRIPTION_PAIR_WORDS);
            }
            pairs.extend(stems.windows(2).map(|p| pair_hash(&p[0], &p[1])));
        }
        for set in [&mut terms, &mut pairs] {
            set.sort_unstable();
            set.dedup();
        }
        assert_eq!(*info.terms, *terms, "terms of {}", doc.name);
        assert_eq!(*info.pairs, *pairs, "pairs of {}", doc.name);
    }
}

/// A snap as the catalog holds it: two revisions (a strict one with keywords, a classic one
/// for two architectures), released on a default-track risk, another track, a branch and a
/// branch that has expired.
fn package_state() -> crate::store::PackageState {
    use crate::domain::Channel;
    use crate::store::{Package, PackageState, Publisher, Release, Revision};
    let at = |s: &str| chrono::DateTime::parse_from_rfc3339(s).unwrap().to_utc();
    let revision = |number: u32, architectures: &[&str], confinement: &str| Revision {
        revision: number,
        version: format!("1.{number}"),
        sha3_384: String::new(),
        sha256: String::new(),
        sha384: String::new(),
        size: 4096,
        architectures: architectures.iter().map(|a| a.to_string()).collect(),
        bases: Vec::new(),
        base: Some("core24".into()),
        confinement: Some(confinement.into()),
        grade: Some("stable".into()),
        kind: "app".into(),
        epoch: Default::default(),
        metadata: serde_json::json!({"keywords": ["vcs", "Version Control"]}),
        created_at: at("2026-01-01T00:00:00Z"),
        created_by: "p".into(),
    };
    let release = |channel: &str, platform: &str, number: u32, expires: Option<&str>| Release {
        channel: Channel::parse(channel).unwrap(),
        platform: platform.into(),
        revision: number,
        released_at: at("2026-01-02T00:00:00Z"),
        expires_at: expires.map(at),
        progressive_percentage: None,
        previous_revision: None,
    };
    PackageState {
        package: Package {
            id: "GITCLIENTAAAAAAAAAAAAAAAAAAAAAAA".into(),
            namespace: Namespace::Snap,
            name: "git-client".into(),
            publisher: Publisher {
                id: "p".into(),
                username: "git-devs".into(),
                display_name: "Git Devs".into(),
                created_at: at("2026-01-01T00:00:00Z"),
            },
            title: "Git Client".into(),
            summary: "A client for Git".into(),
            description: "Browse, stage and commit.".into(),
            license: "MIT".into(),
            website: String::new(),
            contact: String::new(),
            categories: vec!["development".into()],
            private: false,
            default_track: "latest".into(),
            tracks: ["latest", "2.0"]
                .map(|name| crate::store::Track {
                    name: name.into(),
                    version_pattern: None,
                    automatic_phasing_percentage: None,
                    created_at: at("2026-01-01T00:00:00Z"),
                })
                .into(),
            created_at: at("2026-01-01T00:00:00Z"),
            updated_at: at("2026-01-01T00:00:00Z"),
        },
        revisions: vec![
            revision(1, &["amd64"], "strict"),
            revision(2, &["arm64", "riscv64"], "classic"),
        ],
        releases: vec![
            release("latest/stable", "amd64", 1, None),
            release("2.0/edge", "arm64", 2, None),
            release("latest/beta/fix", "amd64", 1, Some("2026-06-01T00:00:00Z")),
            release("latest/edge/old", "amd64", 1, Some("2026-02-01T00:00:00Z")),
        ],
        resources: Default::default(),
        libraries: Vec::new(),
        rendered: Default::default(),
    }
}

/// What documents put in the index and in the side table, and what a package state gives to
/// index, fingerprinted, are pinned to the checkpoint format: a start reads a checkpoint of its own format whatever build wrote it, so
/// a change to what is indexed that left the format alone would serve documents indexed the
/// old way. When this fails on purpose, bump `checkpoint::FORMAT` and pin the new fingerprint
/// (the failure prints it).
#[test]
fn what_documents_index_is_pinned_to_the_checkpoint_format() {
    use tantivy::schema::Value;
    let index = SearchIndex::build(Vec::new()).unwrap();
    let schema = index.index.schema();
    let mut analyzers = Analyzers::of(&index.index, &index.f).unwrap();
    let mut docs = catalog();
    // Longer than the description's words that count for phrases, and each pair of them new.
    docs.push(git_client((0..60).map(|i| format!("client{i} ")).collect()));
    // What a package state gives to index (between its branches' expiry dates).
    let now = chrono::DateTime::parse_from_rfc3339("2026-03-01T00:00:00Z")
        .unwrap()
        .timestamp();
    let from_state = SearchDoc::from_state(&package_state(), now).unwrap();
    let mut lines: Vec<String> = vec![format!("{from_state:?}")];
    docs.push(from_state);
    for doc in &docs {
        let (info, indexed) = SearchIndex::prepare(&mut analyzers, &index.f, doc);
        let words: Vec<&str> = info.words.iter().map(|w| &*w.text).collect();
        lines.push(format!(
            "{} {} {} {:x} {words:?} {:?} {:?}",
            info.id, info.name, info.title_lc, info.name_chars, info.terms, info.pairs
        ));
        let mut fields: Vec<String> = indexed
            .field_values()
            .map(|(field, value)| {
                let value = value
                    .as_str()
                    .map(str::to_string)
                    .or_else(|| value.as_u64().map(|n| n.to_string()))
                    .unwrap_or_else(|| "?".into());
                format!("{}={value}", schema.get_field_name(field))
            })
            .collect();
        fields.sort();
        lines.push(fields.join(" "));
    }
    // The analysers' tokens, as the index reads each field.
    for (_, entry) in schema.fields() {
        let field = schema.get_field(entry.name()).unwrap();
        lines.push(format!(
            "{} {:?}",
            entry.name(),
            analyse_with(
                &index.index,
                field,
                "Running editors' Über-fast GitHubClient 3D"
            )
        ));
    }
    let fingerprint = term_hash(&lines.join("\n"));
    assert_eq!(
        (checkpoint::FORMAT, format!("{fingerprint:08x}")),
        (1, "81734e37".to_string()),
        "what documents index changed: bump checkpoint::FORMAT and pin this fingerprint"
    );
}

/// Optimal-string-alignment distance over the whole matrix, as the textbook has it: what the
/// banded, early-stopping [`edit_distance`] must agree with.
fn full_distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            d[i][j] = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d[i][j] = d[i][j].min(d[i - 2][j - 2] + 1);
            }
        }
    }
    d[a.len()][b.len()]
}

proptest::proptest! {
    /// Words over a few letters (so that near ones are common), some past the 47 letters kept
    /// on the stack, some not ASCII.
    #[test]
    fn edit_distance_agrees_with_the_whole_matrix(
        a in "[abcé]{0,9}|a{40,50}[bc]{0,3}",
        b in "[abcé]{0,9}|a{40,50}[bc]{0,3}",
        max in 0usize..4,
    ) {
        let full = full_distance(&a, &b);
        let expected = (full <= max).then_some(full);
        proptest::prop_assert_eq!(edit_distance(&a, &b, max), expected);
        // The character sets never rule out a pair within `max`.
        proptest::prop_assert_eq!(
            within(&a, char_set(&a), &b, char_set(&b), max),
            expected.is_some()
        );
    }
}

/// Several editors by name, and players and an editor described only by their summaries.
fn editors() -> Vec<SearchDoc> {
    let mut docs = vec![
        doc(
            "e1",
            "dconf-editor",
            "Dconf Editor",
            "Edit the settings database",
            "",
        ),
        doc(
            "e2",
            "text-editor",
            "Text Editor",
            "Edit plain text files",
            "",
        ),
        doc("e3", "shotcut", "Shotcut", "Video editor", "Cut films."),
        doc(
            "e4",
            "clipper",
            "Clipper",
            "Trim and join video clips with this editor",
            "",
        ),
        doc(
            "e5",
            "spreadsheets-pro",
            "Ledger",
            "Spreadsheet for accounts",
            "",
        ),
        doc("e6", "konsole", "Konsole", "Terminal", "Run a shell."),
        doc(
            "e7",
            "term-tool",
            "Term tool",
            "Terminal helper",
            "Opens terminals.",
        ),
    ];
    docs[5].categories = vec!["TerminalEmulator".into()];
    docs
}

#[test]
fn packages_with_every_word_beat_a_name_with_one() {
    let index = SearchIndex::build(editors()).unwrap();
    let found = names(&index, text("video editor"));
    // The name matches of "editor" alone come after both packages that have both words, and
    // the one with the words side by side comes first.
    assert_eq!(found[..2], ["shotcut", "clipper"], "{found:?}");
}

#[test]
fn camel_case_categories_are_words() {
    let index = SearchIndex::build(editors()).unwrap();
    assert_eq!(names(&index, text("terminal emulator"))[0], "konsole");
    assert_eq!(split_camel_case("TerminalEmulator"), "Terminal Emulator");
    assert_eq!(split_camel_case("KDE"), "KDE");
}

#[test]
fn a_misspelt_word_is_corrected_against_the_vocabulary() {
    let index = SearchIndex::build(editors()).unwrap();
    // "vidoe" is no word of the catalog: it is read as "video", so the packages about
    // video editing still lead.
    let found = names(&index, text("vidoe editor"));
    assert_eq!(found[..2], ["shotcut", "clipper"], "{found:?}");
    // A word spelt right is never corrected: "edit" stays "edit".
    assert_eq!(
        names(&index, text("edit settings"))[0],
        "dconf-editor",
        "a known word is taken as typed"
    );
}

#[test]
fn the_last_word_is_completed_from_summaries_too() {
    let index = SearchIndex::build(editors()).unwrap();
    // "spreadsh" starts no name or title word, only a summary word.
    assert_eq!(names(&index, text("spreadsh")), vec!["spreadsheets-pro"]);
    assert_eq!(
        names(&index, text("video edi"))[..2],
        ["shotcut", "clipper"]
    );
}

#[test]
fn cached_filters_follow_new_segments_and_only_narrow() {
    let index = SearchIndex::build(catalog()).unwrap();
    let found = |arch: Option<&str>, confinement: Option<&str>| {
        let mut names = names(
            &index,
            SearchQuery {
                architecture: arch.map(str::to_string),
                confinements: confinement.map(str::to_string).into_iter().collect(),
                ..text("video")
            },
        );
        names.sort();
        names
    };
    // Filtering only removes what does not pass: the rest is what an unfiltered query finds.
    let mut unfiltered = found(None, None);
    unfiltered.retain(|n| n != "vlc");
    assert_eq!(found(Some("amd64"), None), unfiltered);
    // Documents added after the filter's sets were first computed live in a new segment.
    let mut everywhere = doc("20", "video-everywhere", "", "Video for all", "");
    everywhere.architectures = vec!["all".into()];
    let mut mainframe = doc("21", "video-mainframe", "", "Video on s390x", "");
    mainframe.architectures = vec!["s390x".into()];
    mainframe.confinements = vec!["classic".into()];
    index
        .apply(vec![
            ("20".into(), Some(everywhere)),
            ("21".into(), Some(mainframe)),
        ])
        .unwrap();
    let amd64 = found(Some("amd64"), None);
    assert!(amd64.contains(&"video-everywhere".to_string()), "{amd64:?}");
    assert!(!amd64.contains(&"video-mainframe".to_string()), "{amd64:?}");
    let s390x = found(Some("s390x"), None);
    assert!(s390x.contains(&"video-everywhere".to_string()), "{s390x:?}");
    assert!(s390x.contains(&"video-mainframe".to_string()), "{s390x:?}");
    assert!(!s390x.contains(&"video-trimmer".to_string()), "{s390x:?}");
    assert_eq!(
        found(Some("s390x"), Some("classic")),
        vec!["video-mainframe"]
    );
    // A document replaced by an update is gone from the filtered results too.
    index.apply(vec![("21".into(), None)]).unwrap();
    assert!(!found(Some("s390x"), None).contains(&"video-mainframe".to_string()));
}

#[test]
fn broad_and_selective_filters_narrow_alike_totals_included() {
    // Eight of ten packages are for amd64: that filter is checked as matches are collected;
    // the arm64 one (two of ten) is a clause of the query. Both must give exactly the
    // packages that pass, and count them.
    let docs: Vec<SearchDoc> = (0..10)
        .map(|i| {
            let mut d = doc(
                &format!("{i}"),
                &format!("video-{i}"),
                "",
                "A video tool",
                "",
            );
            if i >= 8 {
                d.architectures = vec!["arm64".into()];
            }
            d
        })
        .collect();
    let index = SearchIndex::build(docs).unwrap();
    let run = |arch: Option<&str>| {
        let results = index
            .search(&SearchQuery {
                architecture: arch.map(str::to_string),
                limit: 20,
                ..text("video")
            })
            .unwrap();
        let mut names: Vec<String> = results.hits.iter().map(|h| h.name.to_string()).collect();
        names.sort();
        (names, results.total)
    };
    let (all, total) = run(None);
    assert_eq!(total, 10);
    let (amd64, amd64_total) = run(Some("amd64"));
    let (arm64, arm64_total) = run(Some("arm64"));
    assert_eq!((amd64.len(), amd64_total), (8, 8), "{amd64:?}");
    assert_eq!(arm64, vec!["video-8", "video-9"]);
    assert_eq!(arm64_total, 2);
    let mut both = [amd64, arm64].concat();
    both.sort();
    assert_eq!(both, all);
}

#[test]
fn a_word_two_typos_away_is_found_when_none_is_one_away() {
    // The vocabulary is walked for one-typo neighbours first; with none, for two.
    let index = SearchIndex::build(catalog()).unwrap();
    assert_eq!(names(&index, text("thundrebrid"))[0], "thunderbird");
    assert_eq!(names(&index, text("inkscpae"))[0], "inkscape");
}

fn stamp(seq: i64) -> Stamp {
    Stamp {
        seq,
        change: format!("release pkg-{seq} 1700000000000000"),
        fresh_as_of: 1_700_000_000,
    }
}

/// Writes a checkpoint of `index` at `seq`, returning its size.
fn save(index: &SearchIndex, path: &std::path::Path, seq: i64) -> u64 {
    index.set_position(seq, stamp(seq).fresh_as_of).unwrap();
    index
        .checkpoint()
        .unwrap()
        .write(path, stamp(seq).change)
        .unwrap()
}

/// Every query's names and scores, to compare two indexes answer alike.
fn answers(index: &SearchIndex) -> Vec<Vec<(String, f32)>> {
    [
        "video",
        "vidoe editr",
        "gim",
        "thunderbird",
        "image editor",
        "mail",
    ]
    .iter()
    .map(|q| {
        index
            .search(&SearchQuery {
                limit: 10,
                ..text(q)
            })
            .unwrap()
            .hits
            .into_iter()
            .map(|h| (h.name.to_string(), h.score))
            .collect()
    })
    .collect()
}

#[test]
fn a_checkpoint_reads_back_into_the_same_index() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("search-index.checkpoint");
    assert!(SearchIndex::read_checkpoint(&path).unwrap().is_none());
    let index = SearchIndex::build(catalog()).unwrap();
    // Updated after the build: a deleted document and a second segment.
    index
        .apply(vec![
            ("5".into(), None),
            ("9".into(), Some(doc("9", "zebra", "", "Stripes", ""))),
        ])
        .unwrap();
    let size = save(&index, &path, 7);
    assert_eq!(size, std::fs::metadata(&path).unwrap().len());
    let (read, read_stamp) = SearchIndex::read_checkpoint(&path).unwrap().unwrap();
    assert_eq!(read_stamp, stamp(7));
    assert_eq!(read.len(), index.len());
    assert_eq!(answers(&read), answers(&index));
    assert!(names(&read, text("thunderbird")).is_empty());
    // The index read back takes updates like any other, replacing documents of the checkpoint.
    read.apply(vec![
        (
            "9".into(),
            Some(doc("9", "zebra", "", "Draws polka dots", "")),
        ),
        ("10".into(), Some(doc("10", "okapi", "", "Stripes too", ""))),
    ])
    .unwrap();
    index
        .apply(vec![
            (
                "9".into(),
                Some(doc("9", "zebra", "", "Draws polka dots", "")),
            ),
            ("10".into(), Some(doc("10", "okapi", "", "Stripes too", ""))),
        ])
        .unwrap();
    assert_eq!(names(&read, text("polka")), vec!["zebra"]);
    assert_eq!(names(&read, text("stripes")), vec!["okapi"]);
    // Scores may now differ a little: BM25 counts deleted documents until their segment is
    // merged, and each index merges on its own schedule. The order does not.
    let order = |index: &SearchIndex| -> Vec<Vec<String>> {
        answers(index)
            .into_iter()
            .map(|hits| hits.into_iter().map(|(name, _)| name).collect())
            .collect()
    };
    assert_eq!(order(&read), order(&index));
    // A checkpoint of the updated one replaces the file, and reads back exactly.
    save(&read, &path, 9);
    let (again, again_stamp) = SearchIndex::read_checkpoint(&path).unwrap().unwrap();
    assert_eq!(again_stamp.seq, 9);
    assert_eq!(answers(&again), answers(&read));
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers, vec!["search-index.checkpoint"]);
}

#[test]
fn a_damaged_checkpoint_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("search-index.checkpoint");
    let index = SearchIndex::build(catalog()).unwrap();
    save(&index, &path, 3);
    let good = std::fs::read(&path).unwrap();
    let refused = |bytes: &[u8]| {
        std::fs::write(&path, bytes).unwrap();
        match SearchIndex::read_checkpoint(&path) {
            Err(SearchError::Checkpoint(why)) => why,
            Err(other) => panic!("another error: {other}"),
            Ok(_) => panic!("a damaged checkpoint was read"),
        }
    };
    // Any byte flipped: the checksum catches it.
    for at in [0, 9, 20, good.len() / 2, good.len() - 5, good.len() - 1] {
        let mut bad = good.clone();
        bad[at] ^= 0x40;
        assert!(refused(&bad).contains("checksum"), "byte {at}");
    }
    // Cut short anywhere, including to nothing.
    for len in [0, 3, 12, good.len() / 3, good.len() - 1] {
        let why = refused(&good[..len]);
        assert!(
            why.contains("checksum") || why.contains("truncated"),
            "{len}: {why}"
        );
    }
    // Another file altogether.
    assert!(refused(b"not a checkpoint at all, but long enough").contains("checksum"));
    // A well-formed checkpoint of another format.
    let mut other = good[..good.len() - 4].to_vec();
    other[8..12].copy_from_slice(&99u32.to_le_bytes());
    let crc = crc32fast::hash(&other);
    other.extend_from_slice(&crc.to_le_bytes());
    assert!(refused(&other).contains("format 99"));
    // The good one still reads.
    std::fs::write(&path, &good).unwrap();
    assert!(SearchIndex::read_checkpoint(&path).unwrap().is_some());
}

#[test]
fn an_index_whose_update_failed_is_not_checkpointed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("search-index.checkpoint");
    let index = SearchIndex::build(catalog()).unwrap();
    index.damaged.store(true, Ordering::Relaxed);
    assert!(matches!(
        index.checkpoint(),
        Err(SearchError::Checkpoint(_))
    ));
    assert!(!path.exists());
}

#[test]
fn writing_a_checkpoint_clears_what_an_interrupted_one_left() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("search-index.checkpoint");
    let old = dir.path().join(".search-index.checkpoint.4242.tmp");
    let recent = dir.path().join(".search-index.checkpoint.4343.tmp");
    let other = dir.path().join(".other.4242.tmp");
    for file in [&old, &recent, &other] {
        std::fs::write(file, b"half written").unwrap();
    }
    let two_hours_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(7200);
    for file in [&old, &other] {
        std::fs::File::options()
            .write(true)
            .open(file)
            .unwrap()
            .set_modified(two_hours_ago)
            .unwrap();
    }
    save(&SearchIndex::build(catalog()).unwrap(), &path, 2);
    assert!(!old.exists(), "an old leftover is removed");
    assert!(
        recent.exists(),
        "another process may still be writing this one"
    );
    assert!(other.exists(), "not a checkpoint's");
    assert!(SearchIndex::read_checkpoint(&path).unwrap().is_some());
}
