//! Users: a client's end users, addressed by guid or (v20250224) by the partner `id`.

use ferry_domain::{Client, NewUser, Page, PageRequest, User, UserGuid, UserPatch};

use crate::UserRef;
use ferry_store::UserFilter;

use crate::validate::{self, ID_MAX, METADATA_MAX};
use crate::{Error, Result, Service};

fn check_fields(id: Option<&str>, email: Option<&str>, metadata: Option<&str>) -> Result<()> {
    if let Some(id) = id {
        validate::partner_id("user.id", id, UserGuid::PREFIX)?;
    }
    validate::opt_text("user.email", email, ID_MAX)?;
    validate::opt_text("user.metadata", metadata, METADATA_MAX)
}

impl Service {
    pub async fn create_user(&self, client: &Client, new: NewUser) -> Result<User> {
        check_fields(new.id.as_deref(), new.email.as_deref(), new.metadata.as_deref())?;
        let now = self.now();
        let user = User {
            guid: UserGuid::from_uuid(self.uuid()),
            client_id: client.id.clone(),
            id: new.id,
            email: new.email,
            is_disabled: new.is_disabled,
            metadata: new.metadata,
            created_at: now,
            updated_at: now,
        };
        match self.db().insert_user(&user).await {
            Ok(()) => Ok(user),
            Err(ferry_store::StoreError::Conflict(_)) => Err(self.duplicate_user_id(client, user.id.as_deref()).await),
            Err(e) => Err(e.into()),
        }
    }

    async fn duplicate_user_id(&self, client: &Client, id: Option<&str>) -> Error {
        let existing = match id {
            Some(id) => self.db().get_user_by_id(&client.id, id).await.ok().flatten(),
            None => None,
        };
        Error::Conflict {
            message: format!("a user with id `{}` already exists", id.unwrap_or_default()),
            guid: existing.map(|u| u.guid.into_string()),
        }
    }

    pub async fn get_user(&self, client: &Client, user: &UserRef) -> Result<User> {
        let found = match user {
            UserRef::Guid(g) => self.db().get_user(&client.id, g).await?,
            UserRef::Id(id) => {
                validate::text("user id", id, ID_MAX).map_err(|_| Error::NotFound("user"))?;
                self.db().get_user_by_id(&client.id, id).await?
            }
        };
        found.ok_or(Error::NotFound("user"))
    }

    pub async fn update_user(&self, client: &Client, user: &UserRef, patch: UserPatch) -> Result<User> {
        check_fields(
            patch.id.as_ref().and_then(|v| v.as_deref()),
            patch.email.as_ref().and_then(|v| v.as_deref()),
            patch.metadata.as_ref().and_then(|v| v.as_deref()),
        )?;
        let mut u = self.get_user(client, user).await?;
        if let Some(id) = patch.id {
            u.id = id;
        }
        if let Some(email) = patch.email {
            u.email = email;
        }
        if let Some(d) = patch.is_disabled {
            u.is_disabled = d;
        }
        if let Some(m) = patch.metadata {
            u.metadata = m;
        }
        u.updated_at = self.now();
        match self.db().update_user(&u).await {
            Ok(true) => Ok(u),
            Ok(false) => Err(Error::NotFound("user")),
            Err(ferry_store::StoreError::Conflict(_)) => Err(self.duplicate_user_id(client, u.id.as_deref()).await),
            Err(e) => Err(e.into()),
        }
    }

    /// Deletes the user and everything of it (members, and what they aggregated).
    pub async fn delete_user(&self, client: &Client, user: &UserRef) -> Result<()> {
        let u = self.get_user(client, user).await?;
        if self.db().delete_user(&client.id, &u.guid).await? { Ok(()) } else { Err(Error::NotFound("user")) }
    }

    pub async fn list_users(&self, client: &Client, filter: &UserFilter, page: PageRequest) -> Result<Page<User>> {
        validate::opt_text("id", filter.id.as_deref(), ID_MAX)?;
        validate::opt_text("email", filter.email.as_deref(), ID_MAX)?;
        Ok(self.db().list_users(&client.id, filter, page).await?)
    }
}
