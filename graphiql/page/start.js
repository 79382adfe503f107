// Starts GraphiQL on the page that the graphiql Go package serves (page/index.html).
// It runs after the embedded React, ReactDOM and GraphiQL bundles, as a file of its own:
// the page's Content-Security-Policy (script-src 'self') allows no inline script.
(function () {
  'use strict';

  var root = document.getElementById('graphiql');
  // GraphiQL's menus and dialogs lock scrolling with <style> elements they create
  // (react-remove-scroll), which take their nonce from this global: the page's
  // Content-Security-Policy admits styles from the server and with this nonce only.
  window.__webpack_nonce__ = root.dataset.styleNonce;
  // The GraphQL endpoint, absolute or relative to this page: HTTP for queries and
  // mutations, the same URL with ws: or wss: for subscriptions (graphql-transport-ws).
  var url = new URL(root.dataset.endpoint, window.location.href);
  var subscriptionUrl = new URL(url.href);
  subscriptionUrl.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';

  // GraphiQL sends the Headers pane's headers with every HTTP request, and as the
  // WebSocket's connection_init payload ({"Authorization": "Bearer <token>"}), which
  // is where the server reads a subscription's token.
  var fetcher = GraphiQL.createFetcher({
    url: url.href,
    subscriptionUrl: subscriptionUrl.href,
  });

  // The starter document (page/starter.graphql): its curl example names this endpoint.
  var starter = document
    .getElementById('graphiql-starter')
    .content.textContent.split('{endpoint}')
    .join(url.href);

  ReactDOM.createRoot(root).render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultQuery: starter,
      // Open the Headers pane: the token goes there (step 2 of the starter).
      defaultEditorToolsVisibility: 'headers',
      isHeadersEditorEnabled: true,
      // Tokens stay out of localStorage: the Headers pane starts empty on each visit.
      shouldPersistHeaders: false,
    }),
  );
})();
