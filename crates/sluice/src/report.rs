//! Errors on one line, causes included, each said once.

use std::error::Error;
use std::fmt;

/// Displays an error followed by its causes (`: `-separated), skipping a cause whose
/// message is already in the text. Many errors include their cause in their own message
/// (`replication connection: {0}`), others only link it (`tokio_postgres`' "error
/// connecting to server", whose cause says "Connection refused"): this shows both kinds
/// completely and neither twice. For `error = %ErrorChain(&e)` in logs and the final line.
pub(crate) struct ErrorChain<'a>(pub(crate) &'a (dyn Error + 'static));

impl fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut text = String::new();
        let mut cause = Some(self.0);
        while let Some(error) = cause {
            let message = error.to_string();
            if !text.contains(&message) {
                if !text.is_empty() {
                    text.push_str(": ");
                }
                text.push_str(&message);
            }
            cause = error.source();
        }
        f.write_str(&text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    enum Outer {
        #[error("replication connection: {0}")]
        Repeats(#[source] std::io::Error),
        #[error("error connecting to server")]
        Links(#[source] std::io::Error),
    }

    #[test]
    fn every_cause_is_shown_once() {
        let refused = || std::io::Error::other("Connection refused");
        assert_eq!(
            ErrorChain(&Outer::Repeats(refused())).to_string(),
            "replication connection: Connection refused"
        );
        assert_eq!(
            ErrorChain(&Outer::Links(refused())).to_string(),
            "error connecting to server: Connection refused"
        );
    }
}
