-- CreateEnum
CREATE TYPE "source_kind" AS ENUM ('csv', 'netbox', 'servicenow', 'ksc', 'kics');

-- CreateEnum
CREATE TYPE "run_trigger" AS ENUM ('cron', 'cli', 'ksc_command', 'ksc_event');

-- CreateEnum
CREATE TYPE "run_mode" AS ENUM ('pull', 'plan', 'apply', 'sync');

-- CreateEnum
CREATE TYPE "run_status" AS ENUM ('running', 'succeeded', 'partial', 'failed', 'held', 'interrupted');

-- CreateEnum
CREATE TYPE "plan_status" AS ENUM ('draft', 'approved', 'applying', 'applied', 'partially_applied', 'expired');

-- CreateEnum
CREATE TYPE "plan_action" AS ENUM ('create', 'update', 'upload_config', 'archive', 'delete', 'conflict', 'unknown', 'stale');

-- CreateEnum
CREATE TYPE "plan_item_status" AS ENUM ('pending', 'in_progress', 'applied', 'skipped', 'drifted', 'failed', 'not_applicable');

-- CreateTable
CREATE TABLE "source" (
    "id" SERIAL NOT NULL,
    "name" TEXT NOT NULL,
    "kind" "source_kind" NOT NULL,
    "watermark" TEXT,
    "generation" INTEGER NOT NULL DEFAULT 0,
    "last_read_at" TIMESTAMPTZ(3),
    "last_success_at" TIMESTAMPTZ(3),
    "last_full_read_at" TIMESTAMPTZ(3),
    "last_error" TEXT,
    "last_error_at" TIMESTAMPTZ(3),
    "last_summary" JSONB,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "source_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "source_record" (
    "id" BIGSERIAL NOT NULL,
    "source_id" INTEGER NOT NULL,
    "external_key" TEXT NOT NULL,
    "name" TEXT,
    "owner" TEXT,
    "raw" JSONB NOT NULL,
    "normalized" JSONB NOT NULL,
    "content_hash" TEXT NOT NULL,
    "first_seen" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "last_seen" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "missing_since" TIMESTAMPTZ(3),

    CONSTRAINT "source_record_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "source_reject" (
    "id" BIGSERIAL NOT NULL,
    "source_id" INTEGER NOT NULL,
    "run_id" INTEGER,
    "location" TEXT NOT NULL,
    "column" TEXT,
    "reason" TEXT NOT NULL,
    "raw" JSONB,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "source_reject_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "kics_device" (
    "id" BIGINT NOT NULL,
    "name" TEXT NOT NULL,
    "status" TEXT NOT NULL,
    "category" TEXT,
    "last_modified" TIMESTAMPTZ(3),
    "raw" JSONB NOT NULL,
    "content_hash" TEXT NOT NULL,
    "first_seen" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "last_seen" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "missing_since" TIMESTAMPTZ(3),

    CONSTRAINT "kics_device_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "kics_address" (
    "id" BIGSERIAL NOT NULL,
    "device_id" BIGINT NOT NULL,
    "interface_id" BIGINT,
    "interface_name" TEXT,
    "mac" TEXT,
    "mac_address_space_id" BIGINT,
    "ip" TEXT,
    "ip_address_space_id" BIGINT,

    CONSTRAINT "kics_address_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "kics_address_space" (
    "id" BIGINT NOT NULL,
    "name" TEXT NOT NULL,
    "description" TEXT,
    "read_only" BOOLEAN NOT NULL DEFAULT false,
    "rules" JSONB NOT NULL,
    "raw" JSONB NOT NULL,
    "content_hash" TEXT NOT NULL,
    "first_seen" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "last_seen" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "missing_since" TIMESTAMPTZ(3),

    CONSTRAINT "kics_address_space_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "industrial_config_upload" (
    "id" BIGSERIAL NOT NULL,
    "device_id" BIGINT NOT NULL,
    "path" TEXT NOT NULL,
    "content_hash" TEXT NOT NULL,
    "mode" TEXT NOT NULL,
    "plan_item_id" BIGINT,
    "result" JSONB,
    "uploaded_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "industrial_config_upload_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "sync_run" (
    "id" SERIAL NOT NULL,
    "trigger" "run_trigger" NOT NULL,
    "actor" TEXT NOT NULL,
    "mode" "run_mode" NOT NULL,
    "scope" JSONB NOT NULL DEFAULT '{}',
    "status" "run_status" NOT NULL DEFAULT 'running',
    "counts" JSONB NOT NULL DEFAULT '{}',
    "timings" JSONB NOT NULL DEFAULT '{}',
    "error" TEXT,
    "cause" JSONB,
    "host" TEXT,
    "pid" INTEGER,
    "started_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "finished_at" TIMESTAMPTZ(3),

    CONSTRAINT "sync_run_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "plan" (
    "id" SERIAL NOT NULL,
    "run_id" INTEGER,
    "status" "plan_status" NOT NULL DEFAULT 'draft',
    "scope" JSONB NOT NULL DEFAULT '{}',
    "options" JSONB NOT NULL DEFAULT '{}',
    "basis" JSONB NOT NULL DEFAULT '{}',
    "summary" JSONB NOT NULL DEFAULT '{}',
    "report_path" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "approved_at" TIMESTAMPTZ(3),
    "approved_by" TEXT,
    "apply_started_at" TIMESTAMPTZ(3),
    "applied_at" TIMESTAMPTZ(3),
    "expired_at" TIMESTAMPTZ(3),

    CONSTRAINT "plan_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "plan_item" (
    "id" BIGSERIAL NOT NULL,
    "plan_id" INTEGER NOT NULL,
    "seq" INTEGER NOT NULL,
    "action" "plan_action" NOT NULL,
    "status" "plan_item_status" NOT NULL DEFAULT 'pending',
    "kics_device_id" BIGINT,
    "device_name" TEXT,
    "address_space_id" BIGINT,
    "owner" TEXT,
    "match_keys" JSONB NOT NULL DEFAULT '[]',
    "source_keys" JSONB NOT NULL DEFAULT '[]',
    "before" JSONB,
    "after" JSONB,
    "ops" JSONB,
    "request" JSONB,
    "reason" TEXT,
    "conflict" JSONB,
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "last_error" TEXT,
    "result" JSONB,
    "claimed_by" TEXT,
    "claimed_at" TIMESTAMPTZ(3),
    "finished_at" TIMESTAMPTZ(3),

    CONSTRAINT "plan_item_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "audit_record" (
    "id" BIGSERIAL NOT NULL,
    "at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "actor" TEXT NOT NULL,
    "run_id" INTEGER,
    "plan_id" INTEGER,
    "plan_item_id" BIGINT,
    "device_id" BIGINT,
    "operation" TEXT NOT NULL,
    "request" JSONB,
    "http_status" INTEGER,
    "outcome" TEXT NOT NULL,
    "kics_result" JSONB,
    "before" JSONB,
    "after" JSONB,

    CONSTRAINT "audit_record_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "engine_event" (
    "id" BIGSERIAL NOT NULL,
    "type_id" INTEGER NOT NULL,
    "code" TEXT NOT NULL,
    "severity" TEXT NOT NULL,
    "at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "run_id" INTEGER,
    "message" TEXT,
    "payload" JSONB NOT NULL DEFAULT '{}',

    CONSTRAINT "engine_event_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "ksc_command" (
    "id" TEXT NOT NULL,
    "name" TEXT,
    "params" JSONB,
    "status" TEXT NOT NULL,
    "result" JSONB,
    "error" JSONB,
    "run_id" INTEGER,
    "received_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "finished_at" TIMESTAMPTZ(3),

    CONSTRAINT "ksc_command_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "source_name_key" ON "source"("name");

-- CreateIndex
CREATE INDEX "source_record_owner_idx" ON "source_record"("owner");

-- CreateIndex
CREATE INDEX "source_record_name_idx" ON "source_record"("name");

-- CreateIndex
CREATE UNIQUE INDEX "source_record_source_id_external_key_key" ON "source_record"("source_id", "external_key");

-- CreateIndex
CREATE INDEX "source_reject_source_id_created_at_idx" ON "source_reject"("source_id", "created_at");

-- CreateIndex
CREATE INDEX "kics_device_name_idx" ON "kics_device"("name");

-- CreateIndex
CREATE INDEX "kics_device_last_modified_idx" ON "kics_device"("last_modified");

-- CreateIndex
CREATE INDEX "kics_address_mac_address_space_id_mac_idx" ON "kics_address"("mac_address_space_id", "mac");

-- CreateIndex
CREATE INDEX "kics_address_ip_address_space_id_ip_idx" ON "kics_address"("ip_address_space_id", "ip");

-- CreateIndex
CREATE INDEX "kics_address_device_id_idx" ON "kics_address"("device_id");

-- CreateIndex
CREATE INDEX "industrial_config_upload_device_id_uploaded_at_idx" ON "industrial_config_upload"("device_id", "uploaded_at");

-- CreateIndex
CREATE INDEX "sync_run_started_at_idx" ON "sync_run"("started_at");

-- CreateIndex
CREATE INDEX "sync_run_status_idx" ON "sync_run"("status");

-- CreateIndex
CREATE INDEX "plan_status_created_at_idx" ON "plan"("status", "created_at");

-- CreateIndex
CREATE INDEX "plan_item_plan_id_status_idx" ON "plan_item"("plan_id", "status");

-- CreateIndex
CREATE INDEX "plan_item_kics_device_id_idx" ON "plan_item"("kics_device_id");

-- CreateIndex
CREATE INDEX "plan_item_owner_idx" ON "plan_item"("owner");

-- CreateIndex
CREATE UNIQUE INDEX "plan_item_plan_id_seq_key" ON "plan_item"("plan_id", "seq");

-- CreateIndex
CREATE INDEX "audit_record_device_id_at_idx" ON "audit_record"("device_id", "at");

-- CreateIndex
CREATE INDEX "audit_record_run_id_idx" ON "audit_record"("run_id");

-- CreateIndex
CREATE INDEX "audit_record_plan_item_id_idx" ON "audit_record"("plan_item_id");

-- CreateIndex
CREATE INDEX "audit_record_at_idx" ON "audit_record"("at");

-- CreateIndex
CREATE INDEX "engine_event_at_idx" ON "engine_event"("at");

-- CreateIndex
CREATE INDEX "engine_event_type_id_at_idx" ON "engine_event"("type_id", "at");

-- CreateIndex
CREATE INDEX "engine_event_severity_at_idx" ON "engine_event"("severity", "at");

-- AddForeignKey
ALTER TABLE "source_record" ADD CONSTRAINT "source_record_source_id_fkey" FOREIGN KEY ("source_id") REFERENCES "source"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "source_reject" ADD CONSTRAINT "source_reject_source_id_fkey" FOREIGN KEY ("source_id") REFERENCES "source"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "kics_address" ADD CONSTRAINT "kics_address_device_id_fkey" FOREIGN KEY ("device_id") REFERENCES "kics_device"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "plan" ADD CONSTRAINT "plan_run_id_fkey" FOREIGN KEY ("run_id") REFERENCES "sync_run"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "plan_item" ADD CONSTRAINT "plan_item_plan_id_fkey" FOREIGN KEY ("plan_id") REFERENCES "plan"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- Audit records are append-only: the database itself refuses to change or remove them.
CREATE FUNCTION "audit_record_append_only"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_record is append-only: % is not allowed', TG_OP USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER "audit_record_no_update_delete" BEFORE UPDATE OR DELETE ON "audit_record"
    FOR EACH ROW EXECUTE FUNCTION "audit_record_append_only"();

CREATE TRIGGER "audit_record_no_truncate" BEFORE TRUNCATE ON "audit_record"
    FOR EACH STATEMENT EXECUTE FUNCTION "audit_record_append_only"();
