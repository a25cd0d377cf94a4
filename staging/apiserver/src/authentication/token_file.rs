//! The static token file (`--token-auth-file`): CSV lines
//! `token,user,uid[,"group1,group2"]`, as upstream's `tokenfile` reads it.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{Context, bail};

use super::UserInfo;

/// Tokens and the users they stand for.
#[derive(Debug, Clone, Default)]
pub struct TokenFile {
    tokens: HashMap<String, UserInfo>,
}

impl TokenFile {
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading --token-auth-file {}", path.display()))?;
        Self::parse(&text).with_context(|| format!("parsing --token-auth-file {}", path.display()))
    }

    pub fn parse(text: &str) -> anyhow::Result<Self> {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .trim(csv::Trim::All)
            .from_reader(text.as_bytes());
        let mut tokens = HashMap::new();
        for (index, record) in reader.records().enumerate() {
            let line = index + 1;
            let record = record.with_context(|| format!("line {line}"))?;
            if record.len() < 3 {
                bail!(
                    "line {line}: token file must have at least 3 columns (token, user name, user uid), found {}",
                    record.len()
                );
            }
            let token = &record[0];
            if token.is_empty() {
                tracing::warn!(line, "skipping token file line with an empty token");
                continue;
            }
            let groups = record
                .get(3)
                .map(|groups| {
                    groups
                        .split(',')
                        .map(str::trim)
                        .filter(|g| !g.is_empty())
                        .map(String::from)
                        .collect()
                })
                .unwrap_or_default();
            if tokens.contains_key(token) {
                tracing::warn!(
                    line,
                    "duplicate token in the token file: the later line wins"
                );
            }
            tokens.insert(
                token.to_string(),
                UserInfo {
                    name: record[1].to_string(),
                    uid: record[2].to_string(),
                    groups,
                    ..UserInfo::default()
                },
            );
        }
        Ok(TokenFile { tokens })
    }

    pub fn lookup(&self, token: &str) -> Option<&UserInfo> {
        self.tokens.get(token)
    }

    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_quoted_groups_and_rejects_short_lines() {
        let file = TokenFile::parse("t1,alice,100\nt2,bob,200,\"a,b\"\n").unwrap();
        assert_eq!(file.len(), 2);
        assert_eq!(file.lookup("t2").unwrap().groups, ["a", "b"]);
        assert!(file.lookup("t1").unwrap().groups.is_empty());
        let err = TokenFile::parse("t1,alice\n").unwrap_err();
        assert!(format!("{err:#}").contains("at least 3 columns"), "{err:#}");
    }
}
