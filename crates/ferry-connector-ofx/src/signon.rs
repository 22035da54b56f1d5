//! The signon response (`SONRS`) and the MFA challenges that may come with it.

use crate::error::ParseError;
use crate::field::{Agg, opt, opt_date, req, req_child};
use crate::status::Status;
use crate::tree::Element;
use crate::value::OfxDate;

/// A `SONRS`, plus any `MFACHALLENGERS` sent beside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignonResponse {
    /// `STATUS`; check it first: a non-zero code means nothing else was processed.
    pub status: Status,
    /// `DTSERVER`.
    pub dtserver: Option<OfxDate>,
    /// `LANGUAGE`.
    pub language: Option<String>,
    /// `FI/ORG`.
    pub fi_org: Option<String>,
    /// `FI/FID`.
    pub fi_fid: Option<String>,
    /// `MFACHALLENGERS/MFACHALLENGE` entries.
    pub mfa_challenges: Vec<MfaChallenge>,
    /// The `TRNUID` of the `MFACHALLENGETRNRS` that carried the challenges.
    pub mfa_trnuid: Option<String>,
}

/// One MFA question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MfaChallenge {
    /// `MFAPHRASEID`: `MFA1`… are questions for the user; `MFA101`–`MFA107` are answered by the
    /// client itself.
    pub phrase_id: String,
    /// `MFAPHRASELABEL`, the question text.
    pub label: Option<String>,
}

impl SignonResponse {
    /// A successful signon at `dtserver`.
    pub fn ok(dtserver: OfxDate) -> Self {
        SignonResponse {
            status: Status::ok(),
            dtserver: Some(dtserver),
            language: Some("ENG".into()),
            fi_org: None,
            fi_fid: None,
            mfa_challenges: Vec::new(),
            mfa_trnuid: None,
        }
    }

    /// Reads `SIGNONMSGSRSV1`; its `SONRS` is required.
    pub fn from_msgset(msgset: &Element) -> Result<Self, ParseError> {
        let sonrs = req_child(msgset, "SONRS")?;
        let status = Status::from_element(req_child(sonrs, "STATUS")?)?;
        let mfa_trnrs = msgset.child("MFACHALLENGETRNRS");
        // Some servers put MFACHALLENGERS inside SONRS; accept either place.
        let challengers = mfa_trnrs.and_then(|t| t.child("MFACHALLENGERS")).or_else(|| sonrs.child("MFACHALLENGERS"));
        let mut mfa_challenges = Vec::new();
        for ch in challengers.map(|c| c.all_children()).unwrap_or_default() {
            if ch.name == "MFACHALLENGE" {
                mfa_challenges.push(MfaChallenge {
                    phrase_id: req(ch, "MFAPHRASEID")?.to_owned(),
                    label: opt(ch, "MFAPHRASELABEL"),
                });
            }
        }
        let fi = sonrs.child("FI");
        Ok(SignonResponse {
            status,
            dtserver: opt_date(sonrs, "DTSERVER")?,
            language: opt(sonrs, "LANGUAGE"),
            fi_org: fi.and_then(|f| opt(f, "ORG")),
            fi_fid: fi.and_then(|f| opt(f, "FID")),
            mfa_challenges,
            mfa_trnuid: mfa_trnrs.and_then(|t| opt(t, "TRNUID")),
        })
    }

    /// Writes `SIGNONMSGSRSV1`: the `SONRS`, then an `MFACHALLENGETRNRS` when there are
    /// challenges.
    pub fn to_msgset(&self) -> Element {
        let fi = (self.fi_org.is_some() || self.fi_fid.is_some())
            .then(|| Agg::new().opt("ORG", self.fi_org.as_ref()).opt("FID", self.fi_fid.as_ref()).build("FI"));
        let sonrs = Agg::new()
            .child(self.status.to_element())
            .opt("DTSERVER", self.dtserver)
            .opt("LANGUAGE", self.language.as_ref())
            .opt_child(fi)
            .build("SONRS");
        let mfa = (!self.mfa_challenges.is_empty() || self.mfa_trnuid.is_some()).then(|| {
            let challenges = self.mfa_challenges.iter().map(|c| {
                Agg::new()
                    .leaf("MFAPHRASEID", &c.phrase_id)
                    .opt("MFAPHRASELABEL", c.label.as_ref())
                    .build("MFACHALLENGE")
            });
            Agg::new()
                .leaf("TRNUID", self.mfa_trnuid.as_deref().unwrap_or("0"))
                .child(Status::ok().to_element())
                .child(Agg::new().children(challenges).build("MFACHALLENGERS"))
                .build("MFACHALLENGETRNRS")
        });
        Agg::new().child(sonrs).opt_child(mfa).build("SIGNONMSGSRSV1")
    }
}
