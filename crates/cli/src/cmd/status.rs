//! `aifactory status`: the node's view of the chain; and what every command that talks to a
//! node shares: the `--node` option, a blocking call through the typed client, and turning
//! the client's errors into messages a person can act on.

use std::future::Future;
use std::time::Duration;

use aifactory_client::views::StatusView;
use aifactory_client::{Client, ClientError};
use aifactory_types::amount::format_aif;
use anyhow::{Context as _, anyhow};

use crate::context::Context;

/// The node the CLI talks to unless told otherwise: the first devnet node's API.
const NODE_URL_DEFAULT: &str = "http://127.0.0.1:8700";

/// How long to wait for a TCP connection to the node.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How long one request may take from start to end (a node that accepts connections but
/// never answers must not hang the CLI).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// `aifactory status`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    node: NodeArgs,
}

/// Which node to talk to; flattened into every command that talks to one.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct NodeArgs {
    /// The node's API URL.
    #[arg(long = "node", value_name = "URL", env = "AIFACTORY_NODE", default_value = NODE_URL_DEFAULT)]
    url: String,
}

/// A connection to a node, with a runtime to make blocking calls on.
pub(crate) struct Node {
    /// The typed client; pass its futures to [`Node::call`].
    pub(crate) client: Client,
    runtime: tokio::runtime::Runtime,
    url: String,
    offline_hint: Option<&'static str>,
}

impl Node {
    /// Runs an agent-library call (which moves between nodes itself) on this node's runtime.
    pub(crate) fn block_on<T>(&self, work: impl Future<Output = T>) -> T {
        self.runtime.block_on(work)
    }

    /// The node's API URL.
    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    /// Prepares a client of the node `args` names (nothing is sent yet).
    pub(crate) fn connect(args: &NodeArgs) -> anyhow::Result<Node> {
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .build()
            .context("setting up the HTTP client")?;
        let client = Client::with_http(&args.url, http)?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("starting the async runtime")?;
        Ok(Node {
            client,
            runtime,
            url: args.url.clone(),
            offline_hint: None,
        })
    }

    /// Adds `hint` to the message shown when the node cannot be reached (e.g. how to do
    /// without one).
    pub(crate) fn with_offline_hint(mut self, hint: &'static str) -> Self {
        self.offline_hint = Some(hint);
        self
    }

    /// Runs one client call to its end; errors are the client's own.
    pub(crate) fn run<T>(
        &self,
        call: impl Future<Output = Result<T, ClientError>>,
    ) -> Result<T, ClientError> {
        self.runtime.block_on(call)
    }

    /// Runs one client call to its end; errors become messages for a person.
    pub(crate) fn call<T>(
        &self,
        call: impl Future<Output = Result<T, ClientError>>,
    ) -> anyhow::Result<T> {
        self.run(call).map_err(|error| self.explain(error))
    }

    /// A client error as a person should read it: the node's own message and code when it
    /// answered, and a hint to start a node when it did not.
    pub(crate) fn explain(&self, error: ClientError) -> anyhow::Error {
        match error {
            ClientError::Api { code, message, .. } => anyhow!("{message} ({code})"),
            ClientError::Transport(error) => {
                let hint = match self.offline_hint {
                    Some(extra) => format!("start one with `aifactory devnet`, {extra}"),
                    None => "start one with `aifactory devnet`".to_owned(),
                };
                anyhow!(
                    "cannot reach the node at {}: {} (is it running? {hint})",
                    self.url,
                    root_cause(&error)
                )
            }
            other => anyhow!(other),
        }
    }
}

/// The innermost cause of a transport error ("Connection refused (os error 111)"), which says
/// more than reqwest's outer "error sending request for url".
fn root_cause(error: &reqwest::Error) -> String {
    let mut cause: &dyn std::error::Error = error;
    while let Some(source) = cause.source() {
        cause = source;
    }
    if error.is_timeout() {
        return format!("no answer within the time limit ({cause})");
    }
    cause.to_string()
}

/// Runs `aifactory status`.
pub(crate) fn run(args: Args, context: &Context) -> anyhow::Result<()> {
    let node = Node::connect(&args.node)?;
    let status = node.call(node.client.status())?;
    context.print(&status, describe);
    Ok(())
}

fn describe(status: &StatusView) -> String {
    let mut text = format!(
        "chain id          {}\n\
         height            {}\n\
         finalized height  {}\n\
         last block        {}\n\
         state root        {}\n\
         epoch             {}\n\
         validators        {}",
        status.chain_id,
        status.height,
        status.finalized_height,
        status.last_block_hash,
        status.state_root,
        status.epoch,
        status.validators.len(),
    );
    for validator in &status.validators {
        text.push_str(&format!(
            "\n  {}  {} AIF bonded",
            validator.address,
            format_aif(validator.bonded)
        ));
    }
    text.push_str(&format!("\npeers             {}", status.peers.len()));
    for peer in &status.peers {
        let addr = peer.addr.as_deref().unwrap_or("address unknown");
        text.push_str(&format!("\n  {}  {addr}", peer.id));
    }
    text
}
