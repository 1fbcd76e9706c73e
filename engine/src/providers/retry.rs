//! Calling a provider with retries, within the call's time limits: 429, 5xx, timeouts
//! and connection failures are retried with exponential back-off (a `Retry-After` in
//! seconds is honoured, within bounds); other statuses fail at once with the provider's
//! answer in the error. Each attempt, its answer read included, is bounded by the
//! attempt timeout, and all of them with their back-off by the call's budget, so a
//! provider that stops answering fails the call instead of holding it.

use std::future::Future;
use std::time::Duration;

use reqwest::header::HeaderValue;
use tokio::time::Instant;

use super::Timeouts;
use crate::llm::ModelError;

/// Attempts per call, the first included (LightRAG's tenacity setting).
const ATTEMPTS: u32 = 3;
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// Error bodies are cut to this many characters in messages and logs.
const BODY_EXCERPT: usize = 500;

fn retryable(status: reqwest::StatusCode) -> bool {
    status == reqwest::StatusCode::TOO_MANY_REQUESTS || status.is_server_error()
}

fn backoff(attempt: u32, retry_after: Option<&HeaderValue>) -> Duration {
    retry_after
        .and_then(|v| v.to_str().ok()?.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(Duration::from_secs_f64)
        .unwrap_or(FIRST_BACKOFF * 2u32.pow(attempt - 1))
        .min(MAX_BACKOFF)
}

/// Why one attempt failed, and whether another may follow.
struct Failure {
    error: ModelError,
    retryable: bool,
    retry_after: Option<HeaderValue>,
}

impl Failure {
    fn retryable(error: ModelError) -> Failure {
        Failure {
            error,
            retryable: true,
            retry_after: None,
        }
    }
}

/// The time one attempt gets, and the limit to name if it runs out: the attempt
/// timeout, or what is `left` of the call's budget when that is less.
fn attempt_limit(timeouts: Timeouts, left: Duration) -> (Duration, Duration) {
    if left < timeouts.attempt {
        (left, timeouts.call)
    } else {
        (timeouts.attempt, timeouts.attempt)
    }
}

/// Sends the request `build` makes (once per attempt) and reads a successful answer
/// with `read`; returns the first answer read. Errors `read` returns are final.
pub async fn call<T, Fut>(
    provider: &'static str,
    timeouts: Timeouts,
    build: impl Fn() -> reqwest::RequestBuilder,
    read: impl Fn(reqwest::Response) -> Fut,
) -> Result<T, ModelError>
where
    Fut: Future<Output = Result<T, ModelError>>,
{
    let call_ends = Instant::now() + timeouts.call;
    let mut attempt = 1;
    loop {
        let left = call_ends.saturating_duration_since(Instant::now());
        let (limit, named) = attempt_limit(timeouts, left);
        let outcome = tokio::time::timeout(limit, once(provider, &build, &read))
            .await
            .unwrap_or_else(|_| {
                Err(Failure::retryable(ModelError::Timeout {
                    provider,
                    seconds: named.as_secs(),
                }))
            });
        let failure = match outcome {
            Ok(answer) => return Ok(answer),
            Err(failure) => failure,
        };
        let wait = backoff(attempt, failure.retry_after.as_ref());
        if !failure.retryable || attempt == ATTEMPTS || Instant::now() + wait >= call_ends {
            return Err(failure.error);
        }
        tracing::warn!(provider, attempt, error = %failure.error, retry_in_ms = wait.as_millis() as u64, "model call failed; retrying");
        tokio::time::sleep(wait).await;
        attempt += 1;
    }
}

/// One attempt: the request, then the answer read by `read` on success, or the
/// provider's error status with an excerpt of its body.
async fn once<T, Fut>(
    provider: &'static str,
    build: &impl Fn() -> reqwest::RequestBuilder,
    read: &impl Fn(reqwest::Response) -> Fut,
) -> Result<T, Failure>
where
    Fut: Future<Output = Result<T, ModelError>>,
{
    let response = build().send().await.map_err(|e| {
        Failure::retryable(ModelError::Connect {
            provider,
            reason: e.to_string(),
        })
    })?;
    let status = response.status();
    if status.is_success() {
        return read(response).await.map_err(|error| Failure {
            error,
            retryable: false,
            retry_after: None,
        });
    }
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .cloned();
    let body: String = response
        .text()
        .await
        .unwrap_or_default()
        .chars()
        .take(BODY_EXCERPT)
        .collect();
    Err(Failure {
        error: ModelError::Status {
            provider,
            status: status.as_u16(),
            body,
        },
        retryable: retryable(status),
        retry_after,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_honours_retry_after_within_bounds() {
        assert_eq!(backoff(1, None), Duration::from_millis(500));
        assert_eq!(backoff(3, None), Duration::from_secs(2));
        assert_eq!(backoff(10, None), MAX_BACKOFF);
        let header = |s: &'static str| HeaderValue::from_static(s);
        assert_eq!(backoff(1, Some(&header("0"))), Duration::ZERO);
        assert_eq!(backoff(1, Some(&header("3600"))), MAX_BACKOFF);
        assert_eq!(backoff(2, Some(&header("soon"))), Duration::from_secs(1));
    }

    #[test]
    fn an_attempt_gets_what_is_left_of_the_call() {
        let timeouts = Timeouts {
            attempt: Duration::from_secs(4),
            call: Duration::from_secs(10),
        };
        let attempt = (timeouts.attempt, timeouts.attempt);
        assert_eq!(attempt_limit(timeouts, timeouts.call), attempt);
        assert_eq!(attempt_limit(timeouts, Duration::from_secs(4)), attempt);
        assert_eq!(
            attempt_limit(timeouts, Duration::from_secs(3)),
            (Duration::from_secs(3), timeouts.call)
        );
    }
}
