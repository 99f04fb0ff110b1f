-- AlterTable
ALTER TABLE "plan" ADD COLUMN     "inputs_hash" TEXT;
