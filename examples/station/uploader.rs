//! The uploader: sends every finished record (its model files, then the record) to the cloud, retries a failed
//! upload every `retryUploadInterval`, deletes the local files `deleteLife` after a successful upload, and
//! tells the pads whether the cloud is reachable (`equipment/net/result`, spec 1.0.16).
//!
//! The upload state lives in the record itself (`mini`/`scan` blocks, `userInfo.status`, `resultStatus`), so
//! what is pending survives a restart: every record not fully uploaded is tried again after a start. A record
//! is only marked uploaded once the cloud accepted every part of it.
//!
//! Cloud protocol (devproto's; the spec leaves the station-to-cloud API out): `POST {base}/records/{scanId}/
//! files/{name}` with the file's bytes, answered `{"ossUrl": ...}`; `POST {base}/records/{scanId}` with the record
//! as JSON; `GET {base}/ping` for reachability.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aliscan_proto::{
    Envelope, ErrorCode, ErrorInfo, RecordPush, ScanRecord, StationMessage, StationTime,
    SubmitStatus, UploadStatus,
};
use bytes::Bytes;
use chrono::Timelike;
use device_core::aliscan::{StationCommand, StationEndpoint, Uploader};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokio::sync::mpsc;

use super::records::{fully_uploaded, Records};

/// How the uploader runs.
#[derive(Debug, Clone)]
pub struct UploadSettings {
    /// Base URL of the cloud (`http://host:port/path`); `None`: nothing is uploaded (the records stay pending).
    pub cloud: Option<String>,
    /// Wait after a failed upload before the next try (`retryUploadInterval`); `None` = never retried.
    pub retry: Option<Duration>,
    /// Local files are deleted this long after their upload (`deleteLife`); `None` = kept.
    pub delete_life: Option<Duration>,
    /// How often pending work is looked at.
    pub tick: Duration,
    /// How often reachability is probed when nothing is uploaded.
    pub probe_every: Duration,
    /// Longest wait for one HTTP request.
    pub request_timeout: Duration,
}

impl Default for UploadSettings {
    fn default() -> Self {
        Self {
            cloud: None,
            retry: Some(Duration::from_secs(3600)),
            delete_life: Some(Duration::from_secs(30 * 3600)),
            tick: Duration::from_secs(1),
            probe_every: Duration::from_secs(30),
            request_timeout: Duration::from_secs(30),
        }
    }
}

/// Whether the cloud answered last time: unknown, reachable, unreachable. Clones share it.
#[derive(Debug, Clone, Default)]
pub struct Reachability(Arc<AtomicU8>);

impl Reachability {
    /// `Some(true)` reachable, `Some(false)` not, `None` not known yet.
    pub fn get(&self) -> Option<bool> {
        match self.0.load(Ordering::Relaxed) {
            1 => Some(true),
            2 => Some(false),
            _ => None,
        }
    }

    /// Records an outcome; returns whether it changed.
    fn set(&self, up: bool) -> bool {
        let v = if up { 1 } else { 2 };
        self.0.swap(v, Ordering::Relaxed) != v
    }
}

/// What the station hands records to: a channel to the upload task.
#[derive(Debug, Clone)]
pub struct UploadHandle(mpsc::UnboundedSender<String>);

impl Uploader for UploadHandle {
    fn enqueue(&mut self, record: &ScanRecord) {
        if let Some(id) = &record.scan_id {
            let _ = self.0.send(id.clone());
        }
    }
}

/// Makes the handle and the receiver the task reads.
pub fn channel() -> (UploadHandle, mpsc::UnboundedReceiver<String>) {
    let (tx, rx) = mpsc::unbounded_channel();
    (UploadHandle(tx), rx)
}

struct Worker {
    settings: UploadSettings,
    records: Records,
    station: StationEndpoint,
    reach: Reachability,
    client: Client<HttpConnector, Full<Bytes>>,
    /// When each failed record may be tried again (absent = now).
    next_try: HashMap<String, Option<Instant>>,
    last_probe: Option<Instant>,
    /// Records whose local files are gone already (not looked at again).
    expired: std::collections::HashSet<String>,
}

/// Runs the uploader until `queue` closes (the station is gone) or `stop` fires.
pub async fn run(
    settings: UploadSettings,
    records: Records,
    station: StationEndpoint,
    reach: Reachability,
    mut queue: mpsc::UnboundedReceiver<String>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut w = Worker {
        client: Client::builder(TokioExecutor::new()).build_http(),
        settings,
        records,
        station,
        reach,
        next_try: HashMap::new(),
        last_probe: None,
        expired: std::collections::HashSet::new(),
    };
    let mut tick = tokio::time::interval(w.settings.tick);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.wait_for(|s| *s) => return,
            id = queue.recv() => match id {
                // Handed over (new record, details changed, a pad asked): due now.
                Some(id) => { w.next_try.remove(&id); }
                None => return,
            },
            _ = tick.tick() => {}
        }
        w.pass().await;
    }
}

fn now_time() -> Option<StationTime> {
    let t = chrono::Local::now().naive_local();
    StationTime::new(t.with_nanosecond(0).unwrap_or(t))
}

impl Worker {
    /// One pass: upload what is due, delete what expired, probe when idle.
    async fn pass(&mut self) {
        let now = Instant::now();
        let mut tried = false;
        for record in self.records.all() {
            let Some(id) = record.scan_id.clone() else {
                continue;
            };
            if fully_uploaded(&record) {
                if !self.expired.contains(&id) && self.expire_files(&record) {
                    self.expired.insert(id);
                }
                continue;
            }
            let due = match self.next_try.get(&id) {
                None => true,
                Some(None) => false,
                Some(Some(at)) => *at <= now,
            };
            if !due || self.settings.cloud.is_none() {
                continue;
            }
            tried = true;
            let ok = self.upload(&record).await;
            if ok {
                self.next_try.remove(&id);
            } else {
                let retry = self.settings.retry.map(|d| Instant::now() + d);
                self.next_try.insert(id, retry);
                // The cloud is down: the other records wait for their own retry, not this pass.
                break;
            }
        }
        let probe_due = self
            .last_probe
            .is_none_or(|t| t.elapsed() >= self.settings.probe_every);
        if !tried && probe_due && self.settings.cloud.is_some() {
            let up = self.ping().await;
            self.note_reachability(up);
        }
    }

    async fn ping(&mut self) -> bool {
        self.last_probe = Some(Instant::now());
        let Some(base) = self.settings.cloud.clone() else {
            return false;
        };
        matches!(
            self.send("GET", &format!("{base}/ping"), None, "").await,
            Ok((200, _))
        )
    }

    fn note_reachability(&self, up: bool) {
        if self.reach.set(up) {
            tracing::info!(reachable = up, "cloud reachability changed");
            let msg = StationMessage::NetResult(Envelope {
                pad_id: Some(String::new()),
                data: up,
            });
            let _ = self
                .station
                .handle_command(device_core::runtime::now(), StationCommand::Broadcast(msg));
        }
    }

    async fn send(
        &self,
        method: &str,
        url: &str,
        body: Option<Bytes>,
        content_type: &str,
    ) -> Result<(u16, Bytes), String> {
        let mut req = hyper::Request::builder().method(method).uri(url);
        if !content_type.is_empty() {
            req = req.header("content-type", content_type);
        }
        let req = req
            .body(Full::new(body.unwrap_or_default()))
            .map_err(|e| e.to_string())?;
        let fut = async {
            let resp = self.client.request(req).await.map_err(|e| e.to_string())?;
            let status = resp.status().as_u16();
            let body = http_body_util::Limited::new(resp.into_body(), 64 * 1024)
                .collect()
                .await
                .map_err(|e| e.to_string())?
                .to_bytes();
            Ok((status, body))
        };
        tokio::time::timeout(self.settings.request_timeout, fut)
            .await
            .map_err(|_| "timed out".to_owned())?
    }

    /// Uploads one record; on any failure the record is marked failed and nothing is marked uploaded.
    async fn upload(&mut self, record: &ScanRecord) -> bool {
        let Some(base) = self.settings.cloud.clone() else {
            return false;
        };
        let id = record.scan_id.clone().unwrap_or_default();
        let outcome = self.upload_parts(&base, &id, record).await;
        self.last_probe = Some(Instant::now());
        // Unreachable: no answer, or the cloud answered with a failure; a local failure says nothing of it.
        let reachable = !matches!(
            outcome,
            Err(ErrorCode::UPLOAD_NETWORK_DOWN
                | ErrorCode::OSS_UPLOAD_FAILED
                | ErrorCode::FOOT_JSON_UPLOAD_FAILED)
        );
        self.note_reachability(reachable);
        // Apply the outcome to the record as it is now (a pad may have changed its details meanwhile), in one
        // step with its save, so that a change made meanwhile is not overwritten.
        let ok = outcome.is_ok();
        let time = now_time();
        let mut details_changed = false;
        let updated = self.records.update(&id, |current| {
            match &outcome {
                Ok(urls) => {
                    for (block, url) in [(&mut current.mini, &urls.0), (&mut current.scan, &urls.1)]
                    {
                        if let Some(b) = block {
                            b.status = Some(UploadStatus::Uploaded);
                            b.oss_url = Some(url.clone());
                            b.last_upload_time = time;
                            b.upload_num = Some(b.upload_num.unwrap_or(0) + 1);
                            b.error = Some(ErrorInfo::ok());
                        }
                    }
                    current.result_status = Some(SubmitStatus::Complete);
                    current.result_pri_status = Some(SubmitStatus::Complete);
                    // The details reached the cloud only if they are still the ones sent.
                    if current.user_info == record.user_info {
                        if let Some(u) = &mut current.user_info {
                            u.status = Some(SubmitStatus::Complete);
                        }
                    } else {
                        details_changed = true;
                    }
                    current.error = Some(ErrorInfo::ok());
                }
                Err(code) => {
                    for block in [&mut current.mini, &mut current.scan].into_iter().flatten() {
                        if block.status != Some(UploadStatus::Uploaded) {
                            block.status = Some(UploadStatus::Fail);
                        }
                        block.last_upload_time = time;
                        block.upload_num = Some(block.upload_num.unwrap_or(0) + 1);
                        block.error = Some(ErrorInfo::from_code(*code));
                    }
                    if current.result_status != Some(SubmitStatus::Complete) {
                        current.result_status = Some(SubmitStatus::Fail);
                        current.result_pri_status = Some(SubmitStatus::Fail);
                    }
                    if let Some(u) = &mut current.user_info {
                        if u.status != Some(SubmitStatus::Complete) {
                            u.status = Some(SubmitStatus::Fail);
                        }
                    }
                    current.error = Some(ErrorInfo::from_code(*code));
                    tracing::warn!(scan = %id, code = code.get(), "upload failed; retried later");
                }
            }
        });
        if details_changed {
            self.next_try.remove(&id);
        }
        // Not saved (the record is gone, or the journal refused it): nothing to tell the pads.
        if let Ok(Some(current)) = updated {
            let msg = StationMessage::FilesUpdate(RecordPush {
                pad_id: Some(String::new()),
                scan_id: id,
                data: Box::new(current),
            });
            let _ = self
                .station
                .handle_command(device_core::runtime::now(), StationCommand::Broadcast(msg));
        }
        ok
    }

    /// The files then the record; the `ossUrl`s of the mini and scan models.
    async fn upload_parts(
        &self,
        base: &str,
        id: &str,
        record: &ScanRecord,
    ) -> Result<(String, String), ErrorCode> {
        let mut urls = HashMap::new();
        let already_up = |b: &Option<aliscan_proto::UploadBlock>| {
            b.as_ref()
                .filter(|b| b.status == Some(UploadStatus::Uploaded))
                .and_then(|b| b.oss_url.clone())
        };
        let dir = record.save_path.clone().unwrap_or_default();
        for (name, done) in [
            ("mini.stl", already_up(&record.mini)),
            ("scan.stl", already_up(&record.scan)),
            ("cloud.xyz", already_up(&record.scan)),
        ] {
            if let Some(url) = done {
                urls.insert(name, url);
                continue;
            }
            let bytes = tokio::fs::read(std::path::Path::new(&dir).join(name))
                .await
                .map_err(|_| ErrorCode::LOCAL_STORAGE_FAILED)?;
            let url = format!("{base}/records/{id}/files/{name}");
            let (status, body) = self
                .send("POST", &url, Some(bytes.into()), "application/octet-stream")
                .await
                .map_err(|_| ErrorCode::UPLOAD_NETWORK_DOWN)?;
            if status != 200 {
                return Err(ErrorCode::OSS_UPLOAD_FAILED);
            }
            let oss = serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v["ossUrl"].as_str().map(str::to_owned))
                .ok_or(ErrorCode::OSS_UPLOAD_FAILED)?;
            urls.insert(name, oss);
        }
        let json = serde_json::to_vec(record).map_err(|_| ErrorCode::FOOT_JSON_UPLOAD_FAILED)?;
        let (status, _) = self
            .send(
                "POST",
                &format!("{base}/records/{id}"),
                Some(json.into()),
                "application/json",
            )
            .await
            .map_err(|_| ErrorCode::UPLOAD_NETWORK_DOWN)?;
        if status != 200 {
            return Err(ErrorCode::FOOT_JSON_UPLOAD_FAILED);
        }
        Ok((
            urls.remove("mini.stl").unwrap_or_default(),
            urls.remove("scan.stl").unwrap_or_default(),
        ))
    }

    /// Deletes a fully uploaded record's local files once `deleteLife` has passed since its upload; whether
    /// they are gone.
    fn expire_files(&self, record: &ScanRecord) -> bool {
        let (Some(life), Some(dir)) = (self.settings.delete_life, record.save_path.as_deref())
        else {
            return false;
        };
        let uploaded = record
            .scan
            .as_ref()
            .and_then(|b| b.last_upload_time)
            .map(|t| t.get());
        let Some(uploaded) = uploaded else {
            return false;
        };
        let age = chrono::Local::now().naive_local() - uploaded;
        let dir = std::path::Path::new(dir);
        if !age.to_std().is_ok_and(|a| a >= life) {
            return false;
        }
        if !dir.exists() {
            return true;
        }
        match std::fs::remove_dir_all(dir) {
            Ok(()) => {
                tracing::info!(scan = ?record.scan_id, "local files deleted (deleteLife)");
                true
            }
            Err(e) => {
                tracing::warn!(dir = %dir.display(), error = %e, "local files not deleted");
                false
            }
        }
    }
}
