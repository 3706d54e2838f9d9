//! The pad page in headless Chromium.
