//! Highlighted snippets for search results: the words of a text that match a query word (the
//! word itself, or a word starting with it: `edit` marks `editor`), wrapped in `<mark>`, the
//! rest HTML-escaped, cut to a window around the first match.

/// The query words, lower case, as matched by [`highlight`].
pub fn query_words(query: &str) -> Vec<String> {
    query
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

fn escape(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

fn matches(word: &str, words: &[String]) -> bool {
    let word = word.to_lowercase();
    words.iter().any(|q| {
        word == *q || (q.chars().count() >= 3 && word.starts_with(q.as_str()))
            // A plural or inflected query word still marks its stem: `editors` marks `editor`.
            || (word.chars().count() >= 4 && q.starts_with(word.as_str()) && q.len() - word.len() <= 2)
    })
}

/// `text` with the words matching `words` marked, cut to about `max_chars` characters around
/// the first match (the start when nothing matches). `None` when nothing matches.
pub fn highlight(text: &str, words: &[String], max_chars: usize) -> Option<String> {
    // Word spans in byte offsets.
    let mut spans = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices() {
        if c.is_alphanumeric() {
            start.get_or_insert(i);
        } else if let Some(s) = start.take() {
            spans.push((s, i));
        }
    }
    if let Some(s) = start {
        spans.push((s, text.len()));
    }
    let marked: Vec<(usize, usize)> = spans
        .into_iter()
        .filter(|(s, e)| matches(&text[*s..*e], words))
        .collect();
    let first = marked.first()?.0;
    // Window: start a little before the first match, on a char boundary.
    let lead = max_chars / 4;
    let from = text[..first]
        .char_indices()
        .rev()
        .take(lead)
        .last()
        .map_or(first, |(i, _)| i);
    let to = text[from..]
        .char_indices()
        .nth(max_chars)
        .map_or(text.len(), |(i, _)| from + i);
    let mut out = String::with_capacity(to - from + 32);
    if from > 0 {
        out.push('…');
    }
    let mut at = from;
    for (s, e) in marked {
        if s < from || e > to {
            continue;
        }
        escape(&mut out, &text[at..s]);
        out.push_str("<mark>");
        escape(&mut out, &text[s..e]);
        out.push_str("</mark>");
        at = e;
    }
    escape(&mut out, &text[at..to]);
    if to < text.len() {
        out.push('…');
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_words_and_prefixes_and_escapes() {
        let words = query_words("video edit");
        let h = highlight("A <fast> video editor & cutter", &words, 200).unwrap();
        assert_eq!(
            h,
            "A &lt;fast&gt; <mark>video</mark> <mark>editor</mark> &amp; cutter"
        );
    }

    #[test]
    fn cuts_around_the_first_match() {
        let text = format!("{} needle {}", "x ".repeat(200), "y ".repeat(200));
        let h = highlight(&text, &query_words("needle"), 40).unwrap();
        assert!(h.starts_with('…') && h.ends_with('…'), "{h}");
        assert!(h.contains("<mark>needle</mark>"), "{h}");
    }

    #[test]
    fn nothing_matching_is_none() {
        assert_eq!(highlight("nothing here", &query_words("zebra"), 50), None);
    }
}
