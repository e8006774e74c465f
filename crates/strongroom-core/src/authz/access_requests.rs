//! Access requests: time-bound elevations, asked for with a justification and decided by someone else.

use strongroom_policy::{Action, Resource};

use super::model::{AccessRequestRecord, AccessStatus};
use crate::CoreError;
use crate::audit::{AuditContext, AuditEvent, EventType};
use crate::error::DenialKind;
use crate::ids::random_id;
use crate::principal::Subject;

use super::service::*;

impl Authz {
    /// Asks for elevated access. The matter is not checked for existence
    /// here (that would tell anyone which matters exist); approval does.
    pub async fn request_access(
        &self,
        subject: &Subject,
        new: NewAccessRequest,
        context: &AuditContext,
    ) -> Result<AccessRequestRecord, CoreError> {
        check_id("matter", &new.matter_id)?;
        if let Some(record) = &new.record_id {
            check_id("record", record)?;
        }
        if !new.action.is_elevatable() {
            return Err(CoreError::InvalidInput(
                "action: one of record.read, record.read_redacted, record.decrypt, record.export".into(),
            ));
        }
        if !(1..=MAX_ELEVATION_MINUTES).contains(&new.duration_minutes) {
            return Err(CoreError::InvalidInput(format!("duration_minutes: 1 to {MAX_ELEVATION_MINUTES}")));
        }
        let justification = check_justification(Some(&new.justification))?.to_owned();
        if let Some(purpose) = &new.purpose
            && !self.settings.purposes.is_empty()
            && !self.settings.purposes.contains(purpose)
        {
            return Err(CoreError::InvalidInput(format!("purpose: one of {}", self.settings.purposes.join(", "))));
        }
        let resource = Resource::Matter(new.matter_id.clone());
        self.authorize(subject, Action::AccessRequest, &resource, &Ask::default(), context).await?;
        let request = AccessRequestRecord {
            id: random_id("ar_")?,
            requester_kind: subject.facts.kind,
            requester_id: subject.facts.id.clone(),
            requester_name: subject.facts.name.clone(),
            action: new.action,
            matter_id: new.matter_id,
            record_id: new.record_id,
            duration_minutes: new.duration_minutes,
            justification,
            purpose: new.purpose,
            status: AccessStatus::Pending,
            created_at: self.now(),
            decided_by: None,
            decided_at: None,
            decision_note: None,
            expires_at: None,
        };
        let event = self
            .access_event(EventType::AccessRequestCreate, &request, context)
            .detail("duration_minutes", request.duration_minutes)
            .justification(&request.justification);
        self.store.insert_access_request(&request, &[self.audit.seal(&event)?]).await?;
        Ok(request)
    }

    pub(super) fn access_event(
        &self,
        event_type: EventType,
        request: &AccessRequestRecord,
        context: &AuditContext,
    ) -> AuditEvent {
        let mut target = matter_target(&request.matter_id);
        target.kind = "access_request".into();
        target.id = Some(request.id.clone());
        let mut event = self
            .audit
            .event(event_type, context)
            .target(target)
            .detail("requested_action", request.action.as_str())
            .detail("requester", format!("{}:{}", request.requester_kind.as_str(), request.requester_id));
        if let Some(record) = &request.record_id {
            event = event.detail("record", record.clone());
        }
        event
    }

    pub(super) fn may_approve(&self, subject: &Subject, request: &AccessRequestRecord, context: &AuditContext) -> bool {
        let resource = Resource::Matter(request.matter_id.clone());
        self.decide(subject, Action::AccessApprove, &resource, &Ask::default(), context).allowed
    }

    pub(super) fn is_requester(subject: &Subject, request: &AccessRequestRecord) -> bool {
        subject.facts.kind == request.requester_kind && subject.facts.id == request.requester_id
    }

    /// The requests `subject` may see: its own, and those it may approve.
    pub async fn list_access_requests(
        &self,
        subject: &Subject,
        context: &AuditContext,
    ) -> Result<Vec<AccessRequestRecord>, CoreError> {
        let all = self.store.list_access_requests(None).await?;
        Ok(all
            .into_iter()
            .filter(|request| Self::is_requester(subject, request) || self.may_approve(subject, request, context))
            .collect())
    }

    /// One request, if `subject` may see it.
    pub async fn access_request(
        &self,
        subject: &Subject,
        id: &str,
        context: &AuditContext,
    ) -> Result<AccessRequestRecord, CoreError> {
        match self.store.access_request(id).await? {
            Some(request) if Self::is_requester(subject, &request) || self.may_approve(subject, &request, context) => {
                Ok(request)
            }
            _ => Err(CoreError::NotFound(format!("no access request {id:?}"))),
        }
    }

    /// Approves (`approve`) or denies a pending request. The approver must
    /// hold `access.approve` and must not be the requester (two persons).
    pub async fn decide_access_request(
        &self,
        subject: &Subject,
        id: &str,
        approve: bool,
        note: &str,
        context: &AuditContext,
    ) -> Result<AccessRequestRecord, CoreError> {
        let note = note.trim();
        if note.chars().count() > 1000 {
            return Err(CoreError::InvalidInput("note: at most 1000 characters".into()));
        }
        let mut request = self.access_request(subject, id, context).await?;
        let resource = Resource::Matter(request.matter_id.clone());
        if Self::is_requester(subject, &request) {
            let detail = "an access request is decided by someone other than its requester (two-person rule)";
            return Err(self
                .refuse(DenialKind::SelfApproval, Action::AccessApprove, &resource, detail.into(), context)
                .await);
        }
        self.authorize(subject, Action::AccessApprove, &resource, &Ask::default(), context).await?;
        if request.status != AccessStatus::Pending {
            return Err(CoreError::Conflict(format!("access request {id:?} is {} already", request.status.as_str())));
        }
        if approve && self.store.matter(&request.matter_id).await?.is_none() {
            return Err(CoreError::Conflict(format!("matter {:?} does not exist", request.matter_id)));
        }
        let now = self.now();
        request.status = if approve { AccessStatus::Approved } else { AccessStatus::Denied };
        request.decided_by = Some(subject.reference());
        request.decided_at = Some(now);
        request.decision_note = (!note.is_empty()).then(|| note.to_owned());
        request.expires_at = approve.then(|| now + request.duration_minutes * 60);
        let event_type = if approve { EventType::AccessRequestApprove } else { EventType::AccessRequestDeny };
        let mut event = self.access_event(event_type, &request, context);
        if let Some(expires_at) = request.expires_at {
            event = event.detail("expires_at", expires_at);
        }
        if !note.is_empty() {
            event = event.detail("note", note);
        }
        let record = self.audit.seal(&event)?;
        if self.freshness.after_change(self.store.decide_access_request(&request, &[record])).await? {
            Ok(request)
        } else {
            Err(CoreError::Conflict(format!("access request {id:?} was decided meanwhile")))
        }
    }

    /// Audits the expiry of approved requests whose time has passed (once,
    /// whichever instance gets there first). Expiry itself needs no sweep:
    /// every use checks the time.
    pub async fn record_expiries(&self) -> Result<usize, CoreError> {
        let context = AuditContext::service("authz");
        let mut recorded = 0;
        for request in self.store.unrecorded_expiries(self.now()).await? {
            let event = self.access_event(EventType::AccessRequestExpire, &request, &context);
            if self.store.record_expiry(&request.id, &[self.audit.seal(&event)?]).await? {
                recorded += 1;
            }
        }
        Ok(recorded)
    }
}
