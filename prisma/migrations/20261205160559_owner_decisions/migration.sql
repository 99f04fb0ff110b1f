-- CreateEnum
CREATE TYPE "decision_kind" AS ENUM ('hold', 'pin', 'same_asset', 'ignore_device');

-- AlterEnum
ALTER TYPE "plan_item_status" ADD VALUE 'held';

-- AlterEnum
ALTER TYPE "run_trigger" ADD VALUE 'console';

-- AlterTable
ALTER TABLE "console_user" ADD COLUMN     "oidc_subject" TEXT;

-- AlterTable
ALTER TABLE "plan_item" ADD COLUMN     "approved_at" TIMESTAMPTZ(3),
ADD COLUMN     "approved_by" TEXT,
ADD COLUMN     "decision" JSONB;

-- CreateTable
CREATE TABLE "decision" (
    "id" SERIAL NOT NULL,
    "kind" "decision_kind" NOT NULL,
    "owner" TEXT,
    "actor" TEXT NOT NULL,
    "reason" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "expires_at" TIMESTAMPTZ(3),
    "revoked_at" TIMESTAMPTZ(3),
    "revoked_by" TEXT,
    "action" "plan_action",
    "device_id" BIGINT,
    "source_keys" JSONB NOT NULL DEFAULT '[]',
    "plan_id" INTEGER,
    "seq" INTEGER,

    CONSTRAINT "decision_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "decision_kind_revoked_at_idx" ON "decision"("kind", "revoked_at");

-- CreateIndex
CREATE UNIQUE INDEX "console_user_oidc_subject_key" ON "console_user"("oidc_subject");

-- CreateIndex
CREATE INDEX "plan_item_plan_id_owner_idx" ON "plan_item"("plan_id", "owner");
