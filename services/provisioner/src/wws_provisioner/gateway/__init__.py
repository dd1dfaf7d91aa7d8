"""The host's access gateway: HTTP and WebSocket access to the workspaces on this host
(IDE, ports, terminal, exec, files, metrics) for requests the API signed. See
``wws_events.gateway`` for the contract."""
