//! Front end (server): reading a request body within bounds. A declared `Content-Length` over
//! the limit is refused before any byte is read; the bytes a request holds are taken from a
//! server-wide budget (over it: 503, retry later) and given back when its answer is written;
//! a body must arrive at a minimum average rate once a grace period has passed.

use std::sync::Arc;
use std::time::Instant;

use axum::body::{Body, Bytes};
use http_body_util::BodyExt;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::listen::Limits;

/// Budget units: the budget counts kibibytes.
const UNIT: u64 = 1024;

/// Why a body was not read.
#[derive(Debug)]
pub enum BodyError {
    /// Over the body limit (declared or counted): 413.
    TooLarge,
    /// The server holds as many request bytes as it may: 503.
    Busy,
    /// Slower than the minimum rate: 408.
    Slow,
    /// The client went away or sent a broken body: 400.
    Broken(String),
}

/// Bytes of the in-flight budget, held until dropped.
pub struct Held(#[allow(dead_code)] Vec<OwnedSemaphorePermit>);

/// The budget of request bytes in flight.
pub fn budget(limits: &Limits) -> Arc<Semaphore> {
    let units = (limits.inflight_bytes / UNIT).clamp(1, Semaphore::MAX_PERMITS as u64);
    Arc::new(Semaphore::new(usize::try_from(units).unwrap_or(usize::MAX)))
}

fn take(budget: &Arc<Semaphore>, bytes: u64) -> Result<OwnedSemaphorePermit, BodyError> {
    let units = u32::try_from(bytes.div_ceil(UNIT).max(1)).map_err(|_| BodyError::Busy)?;
    budget
        .clone()
        .try_acquire_many_owned(units)
        .map_err(|_| BodyError::Busy)
}

/// Reads a whole body: at most `limit` bytes, from the budget, at the minimum rate.
pub async fn read(
    body: Body,
    declared: Option<u64>,
    limit: usize,
    limits: &Limits,
    budget: &Arc<Semaphore>,
) -> Result<(Bytes, Held), BodyError> {
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(BodyError::TooLarge);
    }
    let mut held = Vec::new();
    let mut reserved = 0u64;
    if let Some(n) = declared {
        held.push(take(budget, n)?);
        reserved = n.div_ceil(UNIT) * UNIT;
    }
    let start = Instant::now();
    // A declared length is not trusted with memory before its bytes arrive.
    let first = declared.map_or(0, |n| n.min(1 << 20)) as usize;
    let mut buf: Vec<u8> = Vec::with_capacity(first);
    let mut body = body;
    loop {
        let allowed =
            limits.body_grace.as_secs_f64() + buf.len() as f64 / limits.body_min_rate.max(1) as f64;
        let deadline = start + std::time::Duration::from_secs_f64(allowed);
        let frame = match tokio::time::timeout_at(deadline.into(), body.frame()).await {
            Err(_) => return Err(BodyError::Slow),
            Ok(None) => break,
            Ok(Some(Err(e))) => return Err(BodyError::Broken(e.to_string())),
            Ok(Some(Ok(f))) => f,
        };
        let Ok(data) = frame.into_data() else {
            continue;
        };
        if buf.len() + data.len() > limit {
            return Err(BodyError::TooLarge);
        }
        let want = (buf.len() + data.len()) as u64;
        if want > reserved {
            // Undeclared (chunked) bodies, or longer than declared: a mebibyte more at a time.
            let more = (want - reserved).max(1 << 20);
            held.push(take(budget, more)?);
            reserved += more.div_ceil(UNIT) * UNIT;
        }
        buf.extend_from_slice(&data);
    }
    Ok((Bytes::from(buf), Held(held)))
}
