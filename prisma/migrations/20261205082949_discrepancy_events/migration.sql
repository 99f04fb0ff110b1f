-- CreateTable
CREATE TABLE "kics_discrepancy_event" (
    "key" TEXT NOT NULL,
    "kind" TEXT NOT NULL,
    "device_id" BIGINT,
    "event_id" BIGINT,
    "plan_id" INTEGER,
    "registered_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "last_seen_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "resolved_at" TIMESTAMPTZ(3),

    CONSTRAINT "kics_discrepancy_event_pkey" PRIMARY KEY ("key")
);
