//! Typed identifiers. Every ID that crosses a process boundary names its home server, so the
//! same values work unchanged once appliances federate.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("server name must be a DNS name (letters, digits, '-', '.'), 1-253 characters")]
    ServerName,
    #[error(
        "username must be 3-32 characters: lowercase letters, digits, '.', '_' or '-', starting with a letter or digit"
    )]
    Username,
    #[error("user id must look like name@server")]
    UserId,
    #[error("id must look like <ulid>@server")]
    Ulid,
}

/// The DNS name an appliance is known by, e.g. `chat.example.org`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ServerName(String);

impl ServerName {
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let s = s.trim().to_ascii_lowercase();
        let ok = !s.is_empty()
            && s.len() <= 253
            && s.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            });
        if ok { Ok(Self(s)) } else { Err(IdError::ServerName) }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The local part of a user ID, chosen at registration.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Username(String);

impl Username {
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let s = s.trim().to_ascii_lowercase();
        let ok = (3..=32).contains(&s.len())
            && s.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
            && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b));
        if ok { Ok(Self(s)) } else { Err(IdError::Username) }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// `name@server_name`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct UserId(String);

impl UserId {
    pub fn new(name: &Username, server: &ServerName) -> Self {
        Self(format!("{}@{}", name.as_str(), server.as_str()))
    }
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let (name, server) = s.split_once('@').ok_or(IdError::UserId)?;
        let name = Username::parse(name).map_err(|_| IdError::UserId)?;
        let server = ServerName::parse(server).map_err(|_| IdError::UserId)?;
        Ok(Self::new(&name, &server))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    pub fn username(&self) -> &str {
        self.0.split_once('@').map(|(n, _)| n).unwrap_or(&self.0)
    }
    pub fn server(&self) -> &str {
        self.0.split_once('@').map(|(_, s)| s).unwrap_or("")
    }
}

macro_rules! ulid_at_server_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// A fresh, globally unique ID homed on `server`.
            pub fn generate(server: &ServerName) -> Self {
                Self(format!("{}@{}", ulid::Ulid::new(), server.as_str()))
            }
            pub fn parse(s: &str) -> Result<Self, IdError> {
                let (u, server) = s.split_once('@').ok_or(IdError::Ulid)?;
                let u = ulid::Ulid::from_string(u).map_err(|_| IdError::Ulid)?;
                let server = ServerName::parse(server).map_err(|_| IdError::Ulid)?;
                Ok(Self(format!("{}@{}", u, server.as_str())))
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
            /// The server that created this ID (for a chat: the server that orders it).
            pub fn home_server(&self) -> &str {
                self.0.split_once('@').map(|(_, s)| s).unwrap_or("")
            }
        }
    };
}

ulid_at_server_id!(
    /// A chat (1:1 or group), `<ulid>@home_server`.
    ChatId
);
ulid_at_server_id!(
    /// A message, `<ulid>@origin_server`.
    MessageId
);
ulid_at_server_id!(
    /// An uploaded file, `<ulid>@origin_server`.
    MediaId
);

/// One login session (one device); access tokens carry it so it can be revoked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SessionId(ulid::Ulid);

impl SessionId {
    pub fn generate() -> Self {
        Self(ulid::Ulid::new())
    }
}

impl FromStr for SessionId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        ulid::Ulid::from_string(s).map(Self).map_err(|_| IdError::Ulid)
    }
}

macro_rules! string_conversions {
    ($($name:ident),*) => {$(
        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(s: String) -> Result<Self, IdError> {
                Self::parse(&s)
            }
        }
        impl From<$name> for String {
            fn from(v: $name) -> String {
                v.0
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                Self::parse(s)
            }
        }
    )*};
}
string_conversions!(ServerName, Username, UserId, ChatId, MessageId, MediaId);

impl TryFrom<String> for SessionId {
    type Error = IdError;
    fn try_from(s: String) -> Result<Self, IdError> {
        s.parse()
    }
}
impl From<SessionId> for String {
    fn from(v: SessionId) -> String {
        v.0.to_string()
    }
}
impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_ids_are_normalised_and_validated() {
        assert_eq!(UserId::parse("Ana@Example.ORG").unwrap().as_str(), "ana@example.org");
        assert!(UserId::parse("ana").is_err());
        assert!(UserId::parse("a@example.org").is_err());
        assert!(UserId::parse("ana@bad_host").is_err());
        assert!(UserId::parse("../x@example.org").is_err());
    }

    #[test]
    fn chat_ids_record_their_home_server() {
        let server = ServerName::parse("chat.example.org").unwrap();
        let id = ChatId::generate(&server);
        assert_eq!(id.home_server(), "chat.example.org");
        assert_eq!(ChatId::parse(id.as_str()).unwrap(), id);
        assert!(ChatId::parse("nope@chat.example.org").is_err());
    }

    #[test]
    fn server_names_reject_garbage() {
        assert!(ServerName::parse("localhost").is_ok());
        assert!(ServerName::parse("-bad.org").is_err());
        assert!(ServerName::parse("").is_err());
        assert!(ServerName::parse("a b").is_err());
    }
}
