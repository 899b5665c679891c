//! The little of the W3C WebDriver protocol the dashboard's browser test needs, over
//! plain loopback HTTP to ChromeDriver: a session, navigation, elements found by CSS,
//! clicks, typing and file choices, text, scripts, window sizes and screenshots. (A client library would bring a second TLS
//! stack and a Unicode segmenter into the test build, and with them a second build of
//! every crate the `ferry` binary shares.)

use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{json, Value};

/// The key under which WebDriver names an element.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A WebDriver error: its code (`no such element`, `stale element reference`, ...) and
/// message.
#[derive(Debug)]
pub struct WdError {
    pub code: String,
    pub message: String,
}

impl std::fmt::Display for WdError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

/// A browser session.
pub struct Session {
    http: reqwest::Client,
    base: String,
}

/// An element of the current page.
pub struct Element<'a> {
    session: &'a Session,
    id: String,
}

impl Session {
    /// Open a session on the driver at `port` with these capabilities.
    pub async fn new(port: u16, capabilities: Value) -> Session {
        let http = reqwest::Client::new();
        let answer: Value = http
            .post(format!("http://127.0.0.1:{port}/session"))
            .json(&json!({ "capabilities": { "alwaysMatch": capabilities } }))
            .send()
            .await
            .expect("the WebDriver answers")
            .json()
            .await
            .expect("a WebDriver answer");
        let id = answer["value"]["sessionId"].as_str().unwrap_or_else(|| panic!("no WebDriver session: {answer}")).to_string();
        Session { http, base: format!("http://127.0.0.1:{port}/session/{id}") }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Result<Value, WdError> {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let answer: Value = request
            .send()
            .await
            .map_err(|e| WdError { code: "transport".into(), message: e.to_string() })?
            .json()
            .await
            .map_err(|e| WdError { code: "decode".into(), message: e.to_string() })?;
        match answer["value"]["error"].as_str() {
            Some(code) => Err(WdError { code: code.into(), message: answer["value"]["message"].as_str().unwrap_or_default().into() }),
            None => Ok(answer["value"].clone()),
        }
    }

    /// Open `url`.
    pub async fn goto(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", Some(json!({ "url": url }))).await.unwrap_or_else(|e| panic!("open {url}: {e}"));
    }

    /// The current page's URL.
    pub async fn current_url(&self) -> url::Url {
        let value = self.call(reqwest::Method::GET, "/url", None).await.expect("the current URL");
        url::Url::parse(value.as_str().expect("a URL")).expect("a URL")
    }

    /// The first element `css` finds.
    pub async fn find(&self, css: &str) -> Result<Element<'_>, WdError> {
        let value = self.call(reqwest::Method::POST, "/element", Some(json!({ "using": "css selector", "value": css }))).await?;
        match value[ELEMENT].as_str() {
            Some(id) => Ok(Element { session: self, id: id.to_string() }),
            None => Err(WdError { code: "no element id".into(), message: format!("{css}: the driver answered {value}") }),
        }
    }

    /// Wait up to 15 s for an element `css` finds.
    pub async fn wait_for(&self, css: &str) -> Element<'_> {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            match self.find(css).await {
                Ok(element) => return element,
                Err(e) if Instant::now() < deadline && e.code == "no such element" => tokio::time::sleep(Duration::from_millis(50)).await,
                Err(e) => panic!("{css}: {e}"),
            }
        }
    }

    /// Run `script` in the page (its `return` value comes back).
    pub async fn execute(&self, script: &str, args: Vec<Value>) -> Value {
        self.call(reqwest::Method::POST, "/execute/sync", Some(json!({ "script": script, "args": args })))
            .await
            .unwrap_or_else(|e| panic!("script {script}: {e}"))
    }

    /// Run `script` in the page, or `None` while the page is between documents (a
    /// navigation under way answers an error instead of a value).
    pub async fn execute_quiet(&self, script: &str) -> Option<Value> {
        self.call(reqwest::Method::POST, "/execute/sync", Some(json!({ "script": script, "args": [] }))).await.ok()
    }

    /// Resize the window (the viewport follows).
    pub async fn set_window_size(&self, width: u32, height: u32) {
        self.call(reqwest::Method::POST, "/window/rect", Some(json!({ "width": width, "height": height }))).await.expect("resize the window");
    }

    /// A PNG of the viewport.
    pub async fn screenshot(&self) -> Vec<u8> {
        let value = self.call(reqwest::Method::GET, "/screenshot", None).await.expect("a screenshot");
        base64::engine::general_purpose::STANDARD.decode(value.as_str().expect("base64")).expect("base64 PNG")
    }

    /// End the session (the browser closes).
    pub async fn close(self) {
        let _ = self.call(reqwest::Method::DELETE, "", None).await;
    }
}

impl Element<'_> {
    fn path(&self, rest: &str) -> String {
        format!("/element/{}{rest}", self.id)
    }

    /// Its rendered text.
    pub async fn text(&self) -> Result<String, WdError> {
        Ok(self.session.call(reqwest::Method::GET, &self.path("/text"), None).await?.as_str().unwrap_or_default().to_string())
    }

    /// Click it.
    pub async fn click(&self) -> Result<(), WdError> {
        self.session.call(reqwest::Method::POST, &self.path("/click"), Some(json!({}))).await.map(|_| ())
    }

    /// Type `text` into it; for a file input, `text` is the path of the file to choose.
    pub async fn send_keys(&self, text: &str) -> Result<(), WdError> {
        self.session.call(reqwest::Method::POST, &self.path("/value"), Some(json!({ "text": text }))).await.map(|_| ())
    }

    /// Whether it is shown.
    pub async fn is_displayed(&self) -> Result<bool, WdError> {
        Ok(self.session.call(reqwest::Method::GET, &self.path("/displayed"), None).await?.as_bool().unwrap_or(false))
    }
}
