-- CreateTable
CREATE TABLE "address_assertion" (
    "device_id" BIGINT NOT NULL,
    "address" TEXT NOT NULL,
    "first_asserted_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "address_assertion_pkey" PRIMARY KEY ("device_id","address")
);
