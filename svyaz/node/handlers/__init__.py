"""The use cases behind the API's actions, one module per area, each exposing `routes()`:
action name → handler. Handlers run blocking domain services in worker threads and audit what
they do; the guard has already allowed the action when a handler runs."""
