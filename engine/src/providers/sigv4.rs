//! AWS Signature Version 4 for Bedrock requests, by the aws-sigv4 crate (the signer of
//! the AWS SDKs): service `bedrock`, the endpoint's region, the request's time. A
//! request that cannot be signed goes out unsigned and AWS refuses it with a 403 the
//! caller sees.

use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign as sigv4};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;

use super::AwsAccess;

/// The service name Bedrock's runtime endpoints are signed for.
const SERVICE: &str = "bedrock";

/// `request` (a JSON POST of `body` to `url`) with its SigV4 headers.
pub fn sign(
    request: reqwest::RequestBuilder,
    aws: &AwsAccess,
    url: &str,
    body: &[u8],
) -> reqwest::RequestBuilder {
    match headers(aws, url, body, SystemTime::now()) {
        Ok(headers) => headers.into_iter().fold(request, |request, (name, value)| {
            request.header(name, value)
        }),
        Err(error) => {
            tracing::error!(%error, "cannot sign the bedrock request");
            request
        }
    }
}

/// The headers SigV4 adds (`authorization`, `x-amz-date`, `x-amz-security-token`).
pub fn headers(
    aws: &AwsAccess,
    url: &str,
    body: &[u8],
    time: SystemTime,
) -> Result<Vec<(String, String)>, String> {
    let identity: Identity = Credentials::new(
        &aws.access_key_id,
        &aws.secret_access_key,
        aws.session_token.clone(),
        None,
        "lightrag-settings",
    )
    .into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(&aws.region)
        .name(SERVICE)
        .time(time)
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| e.to_string())?
        .into();
    let signed = [("content-type", "application/json")];
    let signable = SignableRequest::new("POST", url, signed.into_iter(), SignableBody::Bytes(body))
        .map_err(|e| e.to_string())?;
    let (instructions, _) = sigv4(signable, &params)
        .map_err(|e| e.to_string())?
        .into_parts();
    Ok(instructions
        .headers()
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_authorization_header_names_the_scope_and_signed_headers() {
        let aws = AwsAccess {
            region: "us-west-2".to_owned(),
            access_key_id: "AKIDEXAMPLE".to_owned(),
            secret_access_key: "secret".to_owned(),
            session_token: Some("token".to_owned()),
        };
        let time = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
        let url = "https://bedrock-runtime.us-west-2.amazonaws.com/model/m%3A0/converse";
        let headers = headers(&aws, url, b"{}", time).unwrap();
        let get = |name: &str| {
            headers
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
                .unwrap()
        };
        let authorization = get("authorization");
        assert!(
            authorization.starts_with(
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20231114/us-west-2/bedrock/aws4_request, \
                 SignedHeaders=content-type;host;x-amz-date;x-amz-security-token, Signature="
            ),
            "{authorization}"
        );
        assert_eq!(get("x-amz-date"), "20231114T221320Z");
        assert_eq!(get("x-amz-security-token"), "token");
        assert_eq!(
            headers,
            super::headers(&aws, url, b"{}", time).unwrap(),
            "deterministic"
        );
    }
}
