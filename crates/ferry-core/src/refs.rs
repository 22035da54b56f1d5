//! How callers name users and members: by guid, or (v20250224 paths, Nexus, Atrium's
//! identifiers) by the partner-defined `id`.

use ferry_domain::{MemberGuid, UserGuid};

use crate::{Error, Result};

/// How a path names a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserRef {
    Guid(UserGuid),
    Id(String),
}

impl UserRef {
    /// v20111101: only guids.
    pub fn guid_only(s: &str) -> Result<Self> {
        UserGuid::parse(s).map(UserRef::Guid).map_err(|_| Error::NotFound("user"))
    }

    /// v20250224: a guid when it has the `USR-` prefix, otherwise the partner id.
    pub fn guid_or_id(s: &str) -> Self {
        match UserGuid::parse(s) {
            Ok(g) => UserRef::Guid(g),
            Err(_) => UserRef::Id(s.to_owned()),
        }
    }
}

/// How a path names a member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemberRef {
    Guid(MemberGuid),
    Id(String),
}

impl MemberRef {
    /// v20111101: only guids.
    pub fn guid_only(s: &str) -> Result<Self> {
        MemberGuid::parse(s).map(MemberRef::Guid).map_err(|_| Error::NotFound("member"))
    }

    /// v20250224: a guid when it has the `MBR-` prefix, otherwise the partner id.
    pub fn guid_or_id(s: &str) -> Self {
        match MemberGuid::parse(s) {
            Ok(g) => MemberRef::Guid(g),
            Err(_) => MemberRef::Id(s.to_owned()),
        }
    }
}
