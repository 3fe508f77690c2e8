//! Email to individuals: the hosted verification link, sent through the organization's SMTP
//! server (`VERITY_SMTP_URL`) as plain text and HTML under the organization's name.

use domain::fields::EmailAddress;
use lettre::message::header::ContentType;
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::sync::Arc;
use std::time::Duration;

/// Why an email was not sent.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// No SMTP server is configured, or its URL could not be used.
    #[error("email is not configured")]
    NotConfigured,
    /// The SMTP server refused the message or could not be reached.
    #[error("the mail server did not accept the message: {0}")]
    Send(String),
}

/// Sends the emails Verity writes. Cheap to clone; one connection pool per server.
#[derive(Clone)]
pub struct Mailer {
    transport: Option<Arc<AsyncSmtpTransport<Tokio1Executor>>>,
    from: Option<Mailbox>,
    organization_name: String,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer")
            .field("configured", &self.transport.is_some())
            .field("organization_name", &self.organization_name)
            .finish()
    }
}

impl Mailer {
    /// A mailer for `smtp_url` (none: every send fails with [`MailError::NotConfigured`]). An
    /// unusable URL or sender is logged once here and makes sending fail the same way.
    pub fn new(smtp_url: Option<&str>, mail_from: &str, organization_name: &str) -> Mailer {
        let transport = smtp_url.and_then(|url| {
            match AsyncSmtpTransport::<Tokio1Executor>::from_url(url) {
                Ok(builder) => Some(Arc::new(
                    builder.timeout(Some(Duration::from_secs(15))).build(),
                )),
                Err(error) => {
                    tracing::error!(error = %error, "VERITY_SMTP_URL is not a usable SMTP URL; email is off");
                    None
                }
            }
        });
        let from = match format!("{organization_name} <{mail_from}>").parse::<Mailbox>() {
            Ok(mailbox) => Some(mailbox),
            Err(error) => {
                tracing::error!(error = %error, "VERITY_MAIL_FROM is not an email address; email is off");
                None
            }
        };
        Mailer {
            transport,
            from,
            organization_name: organization_name.to_owned(),
        }
    }

    /// Whether an SMTP server is configured.
    pub fn is_configured(&self) -> bool {
        self.transport.is_some() && self.from.is_some()
    }

    /// Sends the link that opens an individual's verification.
    pub async fn send_verification_link(
        &self,
        to: &EmailAddress,
        link: &str,
    ) -> Result<(), MailError> {
        let (Some(transport), Some(from)) = (&self.transport, &self.from) else {
            return Err(MailError::NotConfigured);
        };
        let to: Mailbox = to
            .as_str()
            .parse()
            .map_err(|_| MailError::Send("the recipient address was refused".into()))?;
        let (subject, text, html) = verification_link_mail(&self.organization_name, link);
        let message = Message::builder()
            .from(from.clone())
            .to(to)
            .subject(subject)
            .multipart(
                MultiPart::alternative()
                    .singlepart(
                        SinglePart::builder()
                            .header(ContentType::TEXT_PLAIN)
                            .body(text),
                    )
                    .singlepart(
                        SinglePart::builder()
                            .header(ContentType::TEXT_HTML)
                            .body(html),
                    ),
            )
            .map_err(|error| MailError::Send(error.to_string()))?;
        transport
            .send(message)
            .await
            .map(|_| ())
            .map_err(|error| MailError::Send(error.to_string()))
    }
}

/// The subject, plain text and HTML of the verification-link email.
pub fn verification_link_mail(organization: &str, link: &str) -> (String, String, String) {
    let subject = format!("{organization}: verify your identity");
    let text = format!(
        "Hello,\n\n{organization} asks you to verify your identity. It takes about two minutes; \
         you will need a government-issued photo ID.\n\nOpen this link to start:\n{link}\n\n\
         The link works once and expires with the verification. If you did not expect this \
         email, you can ignore it.\n\n{organization}\n"
    );
    let organization_html = html_escape(organization);
    let link_html = html_escape(link);
    let html = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{subject_html}</title></head>\
         <body style=\"font-family:system-ui,sans-serif;line-height:1.5;color:#111\">\
         <p>Hello,</p><p>{organization_html} asks you to verify your identity. It takes about two \
         minutes; you will need a government-issued photo ID.</p>\
         <p><a href=\"{link_html}\" style=\"display:inline-block;padding:10px 18px;background:#1d4ed8;\
         color:#fff;border-radius:6px;text-decoration:none\">Verify your identity</a></p>\
         <p>Or copy this address into your browser:<br>{link_html}</p>\
         <p style=\"color:#555\">The link works once and expires with the verification. If you did \
         not expect this email, you can ignore it.</p><p>{organization_html}</p></body></html>",
        subject_html = html_escape(&subject),
    );
    (subject, text, html)
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mail_names_the_organization_and_escapes_html() {
        let (subject, text, html) =
            verification_link_mail("Acme & <Co>", "http://x.test/verify?code=a&b");
        assert_eq!(subject, "Acme & <Co>: verify your identity");
        assert!(text.contains("http://x.test/verify?code=a&b"));
        assert!(html.contains("Acme &amp; &lt;Co&gt;"));
        assert!(html.contains("href=\"http://x.test/verify?code=a&amp;b\""));
    }

    #[test]
    fn without_a_server_nothing_is_sent() {
        let mailer = Mailer::new(None, "verity@localhost", "Verity");
        assert!(!mailer.is_configured());
        let mailer = Mailer::new(Some("smtp://127.0.0.1:2525"), "verity@localhost", "Verity");
        assert!(mailer.is_configured());
    }
}
