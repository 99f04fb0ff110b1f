-- AlterEnum: status changes to Recognized (the authorized baseline) are items of their own, applied before archives.
ALTER TYPE "plan_action" ADD VALUE 'recognize' BEFORE 'archive';

-- AlterEnum: applied, with errors KICS reported in part of it (an industrial configuration with tag errors).
ALTER TYPE "plan_item_status" ADD VALUE 'applied_with_errors' AFTER 'applied';
