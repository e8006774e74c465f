//! Identity: users and roles, passwords (Argon2id, imported bcrypt), the
//! password policy, logins with TOTP, access tokens (EdDSA JWTs) and
//! single-use refresh tokens, server-side sessions, lockout, resets.
//!
//! Which API should I use? [`Identity`] is the service; [`IdentityStore`]
//! the port `strongroom-store` implements; [`UserPrincipal`] is who an
//! authenticated request is. Settings: [`IdentitySettings`].

mod browser;
mod login;
mod model;
mod passkeys;
mod passwords;
mod personal;
mod policy;
mod service;
mod sessions;
mod settings;
mod signer;
mod tokens;
mod totp;
mod users;

pub use model::{
    Grantor, IdentityStore, OneTimeKind, PasskeyCeremony, PasskeyRecord, PasskeyStore, RefreshOutcome, Role,
    SealedSessionFields, SealedUserFields, SessionRecord, UnsealedSession, UnsealedUser, UserRecord,
};
pub use passkeys::{PasskeyView, RelyingParty};
pub use policy::{MAX_PASSWORD_LENGTH, PasswordPolicy, estimate_strength_bits};
pub use service::{
    Identity, JWT_SIGNING_KEY, LoginOutcome, NewPassword, NewUser, OneTimeSecret, Profile, ProfileChange,
    SessionClient, TOKEN_HMAC_KEY, TokenPair, USER_SECRETS_KEY, UserPrincipal, normalize_username, user_actor,
};
pub use settings::IdentitySettings;
