//! The simulated scanner hardware: a scan captures for a while (`scanning`), computes (`computing`), counts
//! the points of its cloud and either fails with the point-count code (spec 1.0.16: too few points is its own
//! failure, `100205`) or writes the model files under the data directory and yields a record with every
//! measurement. Calibration steps take their time and fail where told (`--fail-step c3`).
//!
//! Timing and outcomes are seeded, so a run can be replayed.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use aliscan_proto::{
    Blob, CalibrationStep, ErrorCode, ErrorInfo, Measurements, RecordStatus, ScanId, ScanRecord,
    Sex, StationTime, SubmitStatus, UploadBlock, UploadStatus, UserInfo,
};
use chrono::Timelike;
use device_core::aliscan::{HardwareReport, Scanner};
use device_core::{RandomSource, SplitMix64};
use tokio::sync::mpsc;

/// How the simulated hardware behaves.
#[derive(Debug, Clone)]
pub struct ScannerSettings {
    /// Time spent capturing (`scanning`).
    pub scan_time: Duration,
    /// Time spent computing (`computing`).
    pub compute_time: Duration,
    /// Time one calibration step takes.
    pub calibrate_time: Duration,
    /// The calibration step that fails, if any.
    pub fail_step: Option<CalibrationStep>,
    /// The code a failing capture step reports (a compute step reports `100204`).
    pub fail_code: ErrorCode,
    /// Points of every scan's cloud; `None`: a seeded count between 60,000 and 140,000.
    pub points: Option<u64>,
    /// Fewer points than this fail the scan with `100205`.
    pub min_points: u64,
    /// Bytes of the high-precision model file (the low-precision one is an eighth).
    pub model_bytes: usize,
    /// Where scan files go (`<dir>/<scanId>/`).
    pub data_dir: PathBuf,
    /// Start of the QR code's URL (`qrCode.urlPrefix`); the `scanId` follows.
    pub qr_prefix: String,
    /// Side of the QR image in pixels (`qrCode.size`).
    pub qr_size: u32,
    /// Seed of the measurements and point counts.
    pub seed: u64,
}

impl Default for ScannerSettings {
    fn default() -> Self {
        Self {
            scan_time: Duration::from_millis(2500),
            compute_time: Duration::from_millis(2000),
            calibrate_time: Duration::from_millis(1200),
            fail_step: None,
            fail_code: ErrorCode::IMAGE_CAPTURE_FAILED,
            points: None,
            min_points: 20_000,
            model_bytes: 1 << 20,
            data_dir: PathBuf::from("data/station/scans"),
            qr_prefix: "https://scan.example.com/r/".into(),
            qr_size: 256,
            seed: 1,
        }
    }
}

/// The simulated scanner. Its reports go to the channel given at construction; the deployment forwards them to
/// the station as [`device_core::aliscan::StationCommand::Hardware`].
pub struct SimScanner {
    settings: Arc<ScannerSettings>,
    reports: mpsc::UnboundedSender<HardwareReport>,
    rng: Arc<Mutex<SplitMix64>>,
    running: Option<tokio::task::JoinHandle<()>>,
    runtime: tokio::runtime::Handle,
}

impl std::fmt::Debug for SimScanner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimScanner")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl SimScanner {
    /// A scanner reporting to `reports`; must be made inside the tokio runtime it runs on.
    pub fn new(settings: ScannerSettings, reports: mpsc::UnboundedSender<HardwareReport>) -> Self {
        let rng = SplitMix64::seeded(settings.seed);
        Self {
            settings: Arc::new(settings),
            reports,
            rng: Arc::new(Mutex::new(rng)),
            running: None,
            runtime: tokio::runtime::Handle::current(),
        }
    }

    fn run(&mut self, work: impl std::future::Future<Output = ()> + Send + 'static) {
        if let Some(old) = self.running.take() {
            old.abort();
        }
        self.running = Some(self.runtime.spawn(work));
    }
}

impl Scanner for SimScanner {
    fn start_scan(&mut self, scan_id: &ScanId, sex: &Sex) -> Result<(), ErrorCode> {
        if !matches!(sex, Sex::Female | Sex::Male) {
            return Err(ErrorCode::BAD_SEX);
        }
        let settings = self.settings.clone();
        let reports = self.reports.clone();
        let (points, seed) = {
            let mut rng = self.rng.lock().unwrap_or_else(PoisonError::into_inner);
            let points = settings
                .points
                .unwrap_or_else(|| 60_000 + rng.next_u64() % 80_000);
            (points, rng.next_u64())
        };
        let scan_id = scan_id.to_string();
        let sex = sex.clone();
        self.run(async move {
            tokio::time::sleep(settings.scan_time).await;
            let _ = reports.send(HardwareReport::ScanDone(Ok(())));
            tokio::time::sleep(settings.compute_time).await;
            let outcome = if points < settings.min_points {
                Err(ErrorCode::POINT_COUNT_ABNORMAL)
            } else {
                let settings = settings.clone();
                tokio::task::spawn_blocking(move || {
                    compute(&settings, &scan_id, &sex, points, seed).map(Box::new)
                })
                .await
                .unwrap_or(Err(ErrorCode::UNKNOWN))
            };
            let _ = reports.send(HardwareReport::ComputeDone(outcome));
        });
        Ok(())
    }

    fn calibrate(&mut self, step: &CalibrationStep) -> Result<(), ErrorCode> {
        let settings = self.settings.clone();
        let reports = self.reports.clone();
        let step = step.clone();
        self.run(async move {
            tokio::time::sleep(settings.calibrate_time).await;
            let outcome = if settings.fail_step.as_ref() == Some(&step) {
                Err(
                    if matches!(step, CalibrationStep::Compute | CalibrationStep::Compute8) {
                        ErrorCode::CALIBRATION_COMPUTE_FAILED
                    } else {
                        settings.fail_code
                    },
                )
            } else {
                Ok(())
            };
            let _ = reports.send(HardwareReport::CalibrationDone(outcome));
        });
        Ok(())
    }

    fn reset(&mut self) {
        if let Some(running) = self.running.take() {
            running.abort();
        }
    }
}

/// The computation: model files on disk and the record with its measurements (without the fields the station
/// fills in: `scanId`, `requestId`, `createPadId`, `sex`).
pub fn compute(
    settings: &ScannerSettings,
    scan_id: &str,
    sex: &Sex,
    points: u64,
    seed: u64,
) -> Result<ScanRecord, ErrorCode> {
    let mut rng = SplitMix64::seeded(seed);
    let dir = settings.data_dir.join(scan_id);
    std::fs::create_dir_all(&dir).map_err(|_| ErrorCode::LOCAL_STORAGE_FAILED)?;
    let male = matches!(sex, Sex::Male);
    let length = if male { 255.0 } else { 232.0 } + rng.next_f64() * 25.0;
    let width = length * (0.37 + rng.next_f64() * 0.04);
    let scan_name = "scan.stl";
    let mini_name = "mini.stl";
    let cloud_name = "cloud.xyz";
    let write = |name: &str, bytes: Vec<u8>| {
        std::fs::write(dir.join(name), bytes).map_err(|_| ErrorCode::LOCAL_STORAGE_FAILED)
    };
    write(scan_name, stl(length, width, settings.model_bytes, seed))?;
    write(
        mini_name,
        stl(length, width, settings.model_bytes / 8, seed),
    )?;
    write(cloud_name, cloud(points, length, width, seed))?;
    let url = format!("{}{scan_id}", settings.qr_prefix);
    let qr = super::qr::png(&url, settings.qr_size).map_err(|_| ErrorCode::UNKNOWN)?;
    let block = |name: &str| UploadBlock {
        status: Some(UploadStatus::Init),
        path: Some(dir.join(name).display().to_string()),
        save_name: Some(name.to_owned()),
        oss_url: None,
        last_upload_time: None,
        upload_num: Some(0),
        error: Some(ErrorInfo::ok()),
    };
    let t = chrono::Local::now().naive_local();
    Ok(ScanRecord {
        save_path: Some(dir.display().to_string()),
        qr_tag: Some(url),
        qr_data: Some(Blob(qr.into())),
        user_info: Some(UserInfo {
            status: Some(SubmitStatus::Init),
            ..UserInfo::default()
        }),
        create_time: StationTime::new(t.with_nanosecond(0).unwrap_or(t)),
        mini: Some(block(mini_name)),
        scan: Some(block(scan_name)),
        result: Some(measurements(&mut rng, male, length, width)),
        result_status: Some(SubmitStatus::Init),
        result_pri_status: Some(SubmitStatus::Init),
        status: Some(RecordStatus::Enable),
        error: Some(ErrorInfo::ok()),
        advise1: Some(vec!["arch support".into()]),
        advise2: Some("regular fit".into()),
        ..ScanRecord::default()
    })
}

/// Every measurement field, plausible for a foot of this length and width (mm).
fn measurements(rng: &mut SplitMix64, male: bool, length: f64, width: f64) -> Measurements {
    let mut m = Measurements::default();
    let round1 = |v: f64| (v * 10.0).round() / 10.0;
    let mut r = |lo: f64, hi: f64| round1(lo + rng.next_f64() * (hi - lo));
    let eur = ((length + 15.0) / 6.67).round();
    let values: Vec<(&str, f64)> = vec![
        ("fit_size_CN", (length / 5.0).round() * 5.0),
        ("fit_size_EUR", eur),
        ("fit_size_UK", eur - if male { 33.0 } else { 32.5 }),
        ("fit_size_US", eur - if male { 32.0 } else { 31.0 }),
        ("lft_zugong", r(0.0, 2.0).round()),
        ("rft_zugong", r(0.0, 2.0).round()),
        ("lft_muwaifan", r(0.0, 2.0).round()),
        ("rft_muwaifan", r(0.0, 2.0).round()),
        ("lft_zuwaifan", r(0.0, 2.0).round()),
        ("rft_zuwaifan", r(0.0, 2.0).round()),
        ("l_r_zhixing", r(0.0, 2.0).round()),
        ("zugong_descrp", r(0.0, 2.0).round()),
        ("muwaifan_descrp", r(0.0, 2.0).round()),
        ("zuwaifan_descrp", r(0.0, 2.0).round()),
        ("zhixing_descrp", r(0.0, 2.0).round()),
    ];
    for (k, v) in values {
        if let Some(slot) = m.get_mut(k) {
            *slot = Some(v);
        }
    }
    // Per-foot values: a base per field as a fraction of length (or width), jittered per foot.
    let per_foot: [(&str, f64, bool); 25] = [
        ("length", 1.0, false),
        ("width", 1.0, true),
        ("zhiwei", 2.45, true),
        ("fuwei", 2.5, true),
        ("douwei", 3.3, true),
        ("jiaobeigaodu", 0.27, true),
        ("muzhipose", 0.9, false),
        ("xiaozhipose", 0.78, false),
        ("diyizhizhipose", 0.72, false),
        ("qianjiaozhangpose", 0.68, false),
        ("diwuzhizhipose", 0.63, false),
        ("yaowopose", 0.41, false),
        ("zhongxinpose", 0.18, false),
        ("muzhilikuan", 0.38, true),
        ("xiaozhiwaikuan", 0.55, true),
        ("diyizhizhilikuan", 0.41, true),
        ("diwuzhizhiwaikuan", 0.59, true),
        ("zhizhizhikuan", 0.97, true),
        ("yaowowaikuan", 0.36, true),
        ("zhongxinquankuan", 0.66, true),
        ("muzhigao", 0.23, true),
        ("zugonggao", 0.16, true),
        ("hougengao", 0.22, true),
        ("houtudu", 0.08, true),
        ("houtugao", 0.42, true),
    ];
    for prefix in ["lft_", "rlt_"] {
        for (name, factor, of_width) in per_foot {
            let base = if of_width { width } else { length } * factor;
            let v = base * (0.98 + rng.next_f64() * 0.04);
            if let Some(slot) = m.get_mut(&format!("{prefix}{name}")) {
                *slot = Some((v * 10.0).round() / 10.0);
            }
        }
    }
    for side in ["left_", "right_"] {
        for (name, lo, hi) in [
            ("zgzhishu", 0.2, 0.3),
            ("zwfdushu", 0.0, 8.0),
            ("mwfdushu", 5.0, 18.0),
            ("pangshouleixing", 0.0, 3.0),
            ("pangshoujiao", 10.0, 25.0),
        ] {
            let v = lo + rng.next_f64() * (hi - lo);
            if let Some(slot) = m.get_mut(&format!("{side}{name}")) {
                *slot = Some((v * 100.0).round() / 100.0);
            }
        }
    }
    m
}

/// A binary STL of about `bytes` bytes: an ellipsoidal foot of `length` x `width` mm.
fn stl(length: f64, width: f64, bytes: usize, seed: u64) -> Vec<u8> {
    let triangles = (bytes.saturating_sub(84) / 50).max(1);
    let mut rng = SplitMix64::seeded(seed);
    let mut out = Vec::with_capacity(84 + triangles * 50);
    let mut header = [0u8; 80];
    let name = b"devproto station simulated foot scan";
    header[..name.len()].copy_from_slice(name);
    out.extend_from_slice(&header);
    out.extend_from_slice(&u32::try_from(triangles).unwrap_or(u32::MAX).to_le_bytes());
    // STL stores single-precision coordinates: the narrowing is the format's.
    #[allow(clippy::cast_possible_truncation)]
    let point = |rng: &mut SplitMix64| -> [f32; 3] {
        let u = rng.next_f64() * std::f64::consts::TAU;
        let v = rng.next_f64() * std::f64::consts::PI;
        [
            (length / 2.0 * v.cos()) as f32,
            (width / 2.0 * v.sin() * u.cos()) as f32,
            (width / 3.0 * v.sin() * u.sin()).abs() as f32,
        ]
    };
    for _ in 0..triangles {
        out.extend_from_slice(&[0u8; 12]); // normal: left to the reader
        for _ in 0..3 {
            for c in point(&mut rng) {
                out.extend_from_slice(&c.to_le_bytes());
            }
        }
        out.extend_from_slice(&[0, 0]);
    }
    out
}

/// The point cloud as `x y z` lines (capped at 20,000 lines written; the count is what was measured).
fn cloud(points: u64, length: f64, width: f64, seed: u64) -> Vec<u8> {
    use std::fmt::Write as _;
    let mut rng = SplitMix64::seeded(seed ^ 0x5eed);
    let mut text = String::new();
    for _ in 0..points.min(20_000) {
        let u = rng.next_f64() * std::f64::consts::TAU;
        let v = rng.next_f64() * std::f64::consts::PI;
        let _ = writeln!(
            text,
            "{:.2} {:.2} {:.2}",
            length / 2.0 * v.cos(),
            width / 2.0 * v.sin() * u.cos(),
            (width / 3.0 * v.sin() * u.sin()).abs()
        );
    }
    text.into_bytes()
}

/// The calibration steps in the spec's order: the two-foot series, then the reference-object series.
pub const STEPS: [CalibrationStep; 12] = [
    CalibrationStep::Left,
    CalibrationStep::Right,
    CalibrationStep::Compute,
    CalibrationStep::C1,
    CalibrationStep::C2,
    CalibrationStep::C3,
    CalibrationStep::C4,
    CalibrationStep::C5,
    CalibrationStep::C6,
    CalibrationStep::C7,
    CalibrationStep::C8,
    CalibrationStep::Compute8,
];
