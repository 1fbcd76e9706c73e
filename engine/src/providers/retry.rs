//! Sending a request with retries: 429, 5xx, timeouts and connection failures are
//! retried with exponential back-off (a `Retry-After` in seconds is honoured, within
//! bounds); other statuses fail at once with the provider's answer in the error.

use std::time::Duration;

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

fn backoff(attempt: u32, retry_after: Option<&reqwest::header::HeaderValue>) -> Duration {
    retry_after
        .and_then(|v| v.to_str().ok()?.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(Duration::from_secs_f64)
        .unwrap_or(FIRST_BACKOFF * 2u32.pow(attempt - 1))
        .min(MAX_BACKOFF)
}

/// Sends the request `build` makes (once per attempt) and returns the first success.
pub async fn send(
    provider: &'static str,
    timeout: Duration,
    build: impl Fn() -> reqwest::RequestBuilder,
) -> Result<reqwest::Response, ModelError> {
    let mut attempt = 1;
    loop {
        let last = attempt == ATTEMPTS;
        let (error, wait) = match build().timeout(timeout).send().await {
            Ok(response) if response.status().is_success() => return Ok(response),
            Ok(response) => {
                let status = response.status();
                let wait = backoff(
                    attempt,
                    response.headers().get(reqwest::header::RETRY_AFTER),
                );
                let body: String = response
                    .text()
                    .await
                    .unwrap_or_default()
                    .chars()
                    .take(BODY_EXCERPT)
                    .collect();
                let error = ModelError::Status {
                    provider,
                    status: status.as_u16(),
                    body,
                };
                if !retryable(status) {
                    return Err(error);
                }
                (error, wait)
            }
            Err(e) if e.is_timeout() => (
                ModelError::Timeout {
                    provider,
                    seconds: timeout.as_secs(),
                },
                backoff(attempt, None),
            ),
            Err(e) => (
                ModelError::Connect {
                    provider,
                    reason: e.to_string(),
                },
                backoff(attempt, None),
            ),
        };
        if last {
            return Err(error);
        }
        tracing::warn!(provider, attempt, %error, retry_in_ms = wait.as_millis() as u64, "model call failed; retrying");
        tokio::time::sleep(wait).await;
        attempt += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_honours_retry_after_within_bounds() {
        assert_eq!(backoff(1, None), Duration::from_millis(500));
        assert_eq!(backoff(3, None), Duration::from_secs(2));
        assert_eq!(backoff(10, None), MAX_BACKOFF);
        let header = |s: &'static str| reqwest::header::HeaderValue::from_static(s);
        assert_eq!(backoff(1, Some(&header("0"))), Duration::ZERO);
        assert_eq!(backoff(1, Some(&header("3600"))), MAX_BACKOFF);
        assert_eq!(backoff(2, Some(&header("soon"))), Duration::from_secs(1));
    }
}
