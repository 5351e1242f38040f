"""The update pipeline: upload -> checks -> merge -> plan -> journal -> engine -> runs."""
