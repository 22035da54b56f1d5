//! Ferry's vocabulary: identifiers, the objects of MX's member model and the connection-status
//! state machine. Nothing here does IO or async work, so every other crate can depend on it.

mod aggregation;
mod enums;
mod guid;
mod models;
mod page;
mod records;
mod status;

pub use aggregation::{
    Account, AccountDetails, AccountType, Challenge, ChallengeOption, Job, JobStatus, JobType, PropertyType,
    Transaction, is_liability_kind,
};
pub use guid::{
    AccountGuid, ClientId, CredentialGuid, GuidError, InstitutionGuid, JobGuid, MemberGuid, TransactionGuid, UserGuid,
};
pub use models::{
    Client, Institution, InstitutionCredential, Member, NewMember, NewUser, Product, Secret, SubmittedCredential,
    UseCase, User, UserPatch,
};
pub use page::{Page, PageRequest};
pub use records::{AccountNumberData, AccountOwnerData, HoldingData, Record, RecordData, RecordKind, StatementData};
pub use status::ConnectionStatus;
