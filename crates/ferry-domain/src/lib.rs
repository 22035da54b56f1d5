//! Ferry's vocabulary: identifiers, the objects of MX's member model and the connection-status
//! state machine. Nothing here does IO or async work, so every other crate can depend on it.

mod guid;
mod models;
mod page;
mod status;

pub use guid::{ClientId, CredentialGuid, GuidError, InstitutionGuid, MemberGuid, UserGuid};
pub use models::{
    Client, Institution, InstitutionCredential, Member, NewMember, NewUser, Product, Secret, SubmittedCredential,
    UseCase, User, UserPatch,
};
pub use page::{Page, PageRequest};
pub use status::ConnectionStatus;
