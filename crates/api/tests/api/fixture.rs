//! The served test chain from `aifactory_api::testing`, with a client of it attached.

use aifactory_api::ApiConfig;
use aifactory_client::Client;

pub(crate) use aifactory_api::testing::{BALANCE, TestNode, unlimited};

/// A real server on a real socket, and a client of it.
pub(crate) struct TestServer {
    /// The node behind the API.
    pub(crate) node: TestNode,
    /// A client of the API.
    pub(crate) client: Client,
    served: aifactory_api::testing::TestServer,
}

impl TestServer {
    /// The URL of `path` on this server.
    pub(crate) fn url(&self, path: &str) -> String {
        self.served.url(path)
    }
}

/// Serves the API over `node` on 127.0.0.1:0 (see `aifactory_api::testing::start`).
pub(crate) async fn start(node: TestNode, config: ApiConfig) -> TestServer {
    let served = aifactory_api::testing::start(node, config).await;
    TestServer {
        node: served.node.clone(),
        client: Client::new(&served.base_url()).unwrap(),
        served,
    }
}
