//! What the station plugs in: the scanner hardware, the record store and the uploader, plus in-memory
//! implementations (a simulator, a bounded store, a recording upload queue) for tests and demos.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};

use aliscan_proto::{CalibrationStep, ErrorCode, ScanId, ScanPage, ScanRecord, Sex};

/// The scanner hardware (or a simulator). Starting work is synchronous; its outcome comes back later through
/// [`StationCommand::Hardware`](super::StationCommand::Hardware), so the station never blocks on a device.
pub trait Scanner: Send {
    /// Starts scanning for `scan_id`. `Err` = the device refused at once (the scan fails with that code).
    ///
    /// # Errors
    /// The device's failure code.
    fn start_scan(&mut self, scan_id: &ScanId, sex: &Sex) -> Result<(), ErrorCode>;

    /// Starts one calibration step. `Err` = the device refused at once (the step fails with that code).
    ///
    /// # Errors
    /// The device's failure code.
    fn calibrate(&mut self, step: &CalibrationStep) -> Result<(), ErrorCode>;

    /// Stops whatever runs and returns to idle (a pad sent `reset`, or the station gave up waiting).
    fn reset(&mut self);
}

/// Where finished scan records are kept.
pub trait RecordStore: Send {
    /// Stores a finished record (replacing one with the same `scanId`).
    ///
    /// # Errors
    /// A storage failure code (the spec's `600101` local data storage failure, typically).
    fn save(&mut self, record: &ScanRecord) -> Result<(), ErrorCode>;

    /// The record with this `scanId`.
    fn get(&self, scan_id: &str) -> Option<ScanRecord>;

    /// The newest record a pad started with this `requestId`.
    fn find_by_request(&self, request_id: &str) -> Option<ScanRecord>;

    /// One page of records, newest first (`page` is 1-based).
    fn page(&self, page: u32, page_size: u32) -> ScanPage;
}

/// Uploads records to the back end, in the background; the station only hands records over.
pub trait Uploader: Send {
    /// Queues `record` for upload.
    fn enqueue(&mut self, record: &ScanRecord);
}

/// One call a [`SimulatedScanner`] received.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ScannerCall {
    /// [`Scanner::start_scan`].
    Scan(String),
    /// [`Scanner::calibrate`].
    Calibrate(CalibrationStep),
    /// [`Scanner::reset`].
    Reset,
}

#[derive(Debug, Default)]
struct SimState {
    calls: Vec<ScannerCall>,
    refuse_next: VecDeque<ErrorCode>,
}

/// A scanner that accepts every start (unless told to refuse) and records its calls. Clones share state, so a
/// test keeps one clone and gives the other to the station; completions are sent as hardware reports.
#[derive(Debug, Clone, Default)]
pub struct SimulatedScanner(Arc<Mutex<SimState>>);

impl SimulatedScanner {
    /// A scanner that accepts everything.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes the next start (scan or calibration) fail at once with `code`.
    pub fn refuse_next(&self, code: ErrorCode) {
        self.state().refuse_next.push_back(code);
    }

    /// The calls received so far.
    #[must_use]
    pub fn calls(&self) -> Vec<ScannerCall> {
        self.state().calls.clone()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, SimState> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn start(&self, call: ScannerCall) -> Result<(), ErrorCode> {
        let mut state = self.state();
        state.calls.push(call);
        state.refuse_next.pop_front().map_or(Ok(()), Err)
    }
}

impl Scanner for SimulatedScanner {
    fn start_scan(&mut self, scan_id: &ScanId, _sex: &Sex) -> Result<(), ErrorCode> {
        self.start(ScannerCall::Scan(scan_id.to_string()))
    }

    fn calibrate(&mut self, step: &CalibrationStep) -> Result<(), ErrorCode> {
        self.start(ScannerCall::Calibrate(step.clone()))
    }

    fn reset(&mut self) {
        self.state().calls.push(ScannerCall::Reset);
    }
}

/// Records kept in memory, at most `capacity` (the oldest is dropped first). Clones share the records.
#[derive(Debug, Clone)]
pub struct MemoryStore {
    records: Arc<Mutex<VecDeque<ScanRecord>>>,
    capacity: usize,
}

/// Default capacity of a [`MemoryStore`].
pub const DEFAULT_STORE_CAPACITY: usize = 10_000;

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new(DEFAULT_STORE_CAPACITY)
    }
}

impl MemoryStore {
    /// A store holding at most `capacity` records (at least 1).
    #[must_use]
    pub fn new(capacity: usize) -> Self {
        Self {
            records: Arc::default(),
            capacity: capacity.max(1),
        }
    }

    /// How many records are stored.
    #[must_use]
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no record is stored.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<ScanRecord>> {
        self.records.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl RecordStore for MemoryStore {
    fn save(&mut self, record: &ScanRecord) -> Result<(), ErrorCode> {
        let mut records = self.lock();
        records.retain(|r| r.scan_id.is_none() || r.scan_id != record.scan_id);
        if records.len() >= self.capacity {
            records.pop_front();
        }
        records.push_back(record.clone());
        Ok(())
    }

    fn get(&self, scan_id: &str) -> Option<ScanRecord> {
        self.lock()
            .iter()
            .find(|r| r.scan_id.as_deref() == Some(scan_id))
            .cloned()
    }

    fn find_by_request(&self, request_id: &str) -> Option<ScanRecord> {
        self.lock()
            .iter()
            .rev()
            .find(|r| r.request_id.as_deref() == Some(request_id))
            .cloned()
    }

    fn page(&self, page: u32, page_size: u32) -> ScanPage {
        let records = self.lock();
        let size = usize::try_from(page_size).unwrap_or(usize::MAX);
        let skip = usize::try_from(page.max(1) - 1)
            .unwrap_or(usize::MAX)
            .saturating_mul(size);
        ScanPage {
            count: u64::try_from(records.len()).unwrap_or(u64::MAX),
            page: page.max(1),
            page_size,
            list: records
                .iter()
                .rev()
                .skip(skip)
                .take(size)
                .cloned()
                .collect(),
        }
    }
}

/// An uploader that only remembers what it was given (the `scanId`s, in order). Clones share the list.
#[derive(Debug, Clone, Default)]
pub struct UploadQueue(Arc<Mutex<Vec<String>>>);

impl UploadQueue {
    /// An empty queue.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// The `scanId`s queued so far.
    #[must_use]
    pub fn queued(&self) -> Vec<String> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl Uploader for UploadQueue {
    fn enqueue(&mut self, record: &ScanRecord) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(record.scan_id.clone().unwrap_or_default());
    }
}
