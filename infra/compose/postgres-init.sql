-- First start of the compose PostgreSQL (pgvector image): Keycloak's own database, and pgvector in
-- Basira's (face embeddings, DESIGN.md); the services create their tables by their migrations.
CREATE DATABASE keycloak;
CREATE EXTENSION IF NOT EXISTS vector;
