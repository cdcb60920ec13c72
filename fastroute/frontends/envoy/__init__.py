"""The Envoy front door: an external processor (ext_proc, gRPC) that decides inside Envoy
(`fastroute extproc`, the `envoy` extra). processor.py is the protocol's state machine over the
decision layer, messages.py reads and writes Envoy's messages, two transports carry them
(grpclib_transport.py, grpcio_transport.py) and service.py runs one until stopped."""
