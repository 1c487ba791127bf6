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
    /// Everything written so far, which must be whole lines.
    pub(crate) fn text(&self) -> String {
        let text = String::from_utf8(self.0.lock().unwrap().clone()).unwrap();
        assert!(text.is_empty() || text.ends_with('\n'), "{text}");
        text
    }
}
