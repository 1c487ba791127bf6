//! Tokens, scopes, and who may touch what.
//!
//! Tokens are opaque secrets (`depot_` + 43 characters of base64url randomness). Only their
//! SHA-256 is stored. A token carries scopes, optionally a list of packages it is restricted
//! to, and optionally an expiry. A publisher-side action is allowed when the token has the
//! needed scope (or `admin`), the package is in the token's list (if it has one), and the
//! token's account publishes the package (or the token has `admin`).

use std::fmt;
use std::str::FromStr;

use base64::Engine;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::domain::Namespace;
use crate::store::{Account, Package, PackageRef, TokenRecord};

/// What a token may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Scope {
    #[serde(rename = "package-upload")]
    PackageUpload,
    #[serde(rename = "package-release")]
    PackageRelease,
    #[serde(rename = "package-manage")]
    PackageManage,
    #[serde(rename = "account-register-package")]
    AccountRegisterPackage,
    #[serde(rename = "admin")]
    Admin,
}

impl Scope {
    pub const ALL: [Scope; 5] = [
        Scope::PackageUpload,
        Scope::PackageRelease,
        Scope::PackageManage,
        Scope::AccountRegisterPackage,
        Scope::Admin,
    ];

    /// The scopes a token gets when none are asked for: everything a publisher does.
    pub const PUBLISHER: [Scope; 4] = [
        Scope::PackageUpload,
        Scope::PackageRelease,
        Scope::PackageManage,
        Scope::AccountRegisterPackage,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            Scope::PackageUpload => "package-upload",
            Scope::PackageRelease => "package-release",
            Scope::PackageManage => "package-manage",
            Scope::AccountRegisterPackage => "account-register-package",
            Scope::Admin => "admin",
        }
    }

    /// The Charmhub permission names this scope stands for, as `whoami` reports them.
    pub fn permissions(&self) -> &'static [&'static str] {
        match self {
            Scope::PackageUpload => &[
                "package-manage-revisions",
                "package-view-revisions",
                "package-view",
            ],
            Scope::PackageRelease => &[
                "package-manage-releases",
                "package-view-releases",
                "package-view",
            ],
            Scope::PackageManage => &[
                "package-manage",
                "package-manage-metadata",
                "package-view-metadata",
                "package-view",
            ],
            Scope::AccountRegisterPackage => &["account-register-package", "account-view-packages"],
            Scope::Admin => &["store-manage", "store-view"],
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Scope {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Scope::ALL
            .into_iter()
            .find(|scope| scope.as_str() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Scope::ALL.iter().map(Scope::as_str).collect();
                format!("unknown scope {s:?}; scopes are {}", names.join(", "))
            })
    }
}

/// A freshly minted token: the secret to hand out once, and the hash to store.
pub struct MintedToken {
    pub secret: String,
    pub hash: String,
}

pub fn mint_token() -> MintedToken {
    let bytes: [u8; 32] = rand::random();
    let secret = format!(
        "depot_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    );
    let hash = hash_secret(&secret);
    MintedToken { secret, hash }
}

pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Extracts the secret from an `Authorization` header value: `Macaroon <token>`,
/// `Bearer <token>`, or `Macaroon root=<token>` (how some clients send a root macaroon).
pub fn secret_from_header(value: &str) -> Option<&str> {
    let (scheme, rest) = value.trim().split_once(' ')?;
    if !(scheme.eq_ignore_ascii_case("macaroon") || scheme.eq_ignore_ascii_case("bearer")) {
        return None;
    }
    let rest = rest.trim();
    let rest = rest.strip_prefix("root=").unwrap_or(rest);
    let rest = rest.split(',').next()?.trim().trim_matches('"');
    (!rest.is_empty()).then_some(rest)
}

/// The authenticated caller of a request.
#[derive(Clone, Debug)]
pub struct Principal {
    pub account: Account,
    pub token: TokenRecord,
}

/// Why an action is refused. Both map to 403 with their own code.
#[derive(Debug, PartialEq, Eq)]
pub enum Denied {
    /// The token lacks the scope.
    MissingScope(Scope),
    /// The token is restricted to other packages.
    NotListed,
    /// The package belongs to another account.
    NotYourPackage,
}

impl Principal {
    pub fn is_admin(&self) -> bool {
        self.token.scopes.contains(&Scope::Admin)
    }

    pub fn has_scope(&self, scope: Scope) -> bool {
        self.is_admin() || self.token.scopes.contains(&scope)
    }

    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        self.token.expires_at.is_some_and(|t| t <= now)
    }

    /// Whether this caller is `package`'s publisher (or an admin), with a token not
    /// restricted to other packages: it may see the package when private, and have any of its
    /// revisions.
    pub fn publishes(&self, package: &Package) -> bool {
        let listed = self.token.packages.as_ref().is_none_or(|packages| {
            packages
                .iter()
                .any(|p| p.namespace == package.namespace && p.name == package.name)
        });
        listed && (self.is_admin() || package.publisher.id == self.account.id)
    }

    /// May this caller do `scope` on `package`?
    pub fn authorize(&self, scope: Scope, package: &Package) -> Result<(), Denied> {
        if !self.has_scope(scope) {
            return Err(Denied::MissingScope(scope));
        }
        if let Some(packages) = &self.token.packages {
            let listed = packages
                .iter()
                .any(|p| p.namespace == package.namespace && p.name == package.name);
            if !listed {
                return Err(Denied::NotListed);
            }
        }
        if self.is_admin() || package.publisher.id == self.account.id {
            Ok(())
        } else {
            Err(Denied::NotYourPackage)
        }
    }

    /// May this caller register `name` in `namespace`?
    pub fn authorize_register(&self, namespace: Namespace, name: &str) -> Result<(), Denied> {
        if !self.has_scope(Scope::AccountRegisterPackage) {
            return Err(Denied::MissingScope(Scope::AccountRegisterPackage));
        }
        match &self.token.packages {
            Some(packages)
                if !packages
                    .iter()
                    .any(|p| p.namespace == namespace && p.name == name) =>
            {
                Err(Denied::NotListed)
            }
            _ => Ok(()),
        }
    }

    /// The Charmhub permissions this token grants, for `whoami`.
    pub fn permissions(&self) -> Vec<&'static str> {
        let scopes: &[Scope] = if self.is_admin() {
            &Scope::ALL
        } else {
            &self.token.scopes
        };
        let mut out: Vec<&'static str> = scopes
            .iter()
            .flat_map(|s| s.permissions().iter().copied())
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    pub fn packages(&self) -> Option<&[PackageRef]> {
        self.token.packages.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_forms() {
        assert_eq!(secret_from_header("Macaroon abc"), Some("abc"));
        assert_eq!(secret_from_header("Bearer abc"), Some("abc"));
        assert_eq!(
            secret_from_header("macaroon root=abc, discharge=def"),
            Some("abc")
        );
        assert_eq!(secret_from_header("Basic abc"), None);
        assert_eq!(secret_from_header("Bearer "), None);
    }

    #[test]
    fn minted_tokens_are_unique_and_hash_stably() {
        let a = mint_token();
        let b = mint_token();
        assert_ne!(a.secret, b.secret);
        assert_eq!(hash_secret(&a.secret), a.hash);
        assert!(a.secret.starts_with("depot_"));
    }

    #[test]
    fn scope_names_round_trip() {
        for scope in Scope::ALL {
            assert_eq!(scope.as_str().parse::<Scope>().unwrap(), scope);
            assert_eq!(
                serde_json::to_string(&scope).unwrap(),
                format!("\"{scope}\"")
            );
        }
        assert!("root".parse::<Scope>().is_err());
    }
}
