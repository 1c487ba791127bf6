//! What the log format tests write to: the lines a layer wrote, kept in memory.

use std::io;
use std::sync::{Arc, Mutex};

/// Lines written by a layer (`with_writer(move || lines.clone())`), kept for the test.
#[derive(Clone, Default)]
pub(crate) struct Lines(Arc<Mutex<Vec<u8>>>);

impl io::Write for Lines {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Lines {
    /// A plain text subscriber (tracing-subscriber's own format, no colours) writing here: for
    /// tests of what code logs, with `tracing::subscriber::with_default` or `set_default`.
    pub(crate) fn subscriber(&self) -> impl tracing::Subscriber + Send + Sync + 'static {
        let writer = self.clone();
        tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish()
    }

    /// Everything written so far, which must be whole lines.
    pub(crate) fn text(&self) -> String {
        let text = String::from_utf8(self.0.lock().unwrap().clone()).unwrap();
        assert!(text.is_empty() || text.ends_with('\n'), "{text}");
        text
    }
}
