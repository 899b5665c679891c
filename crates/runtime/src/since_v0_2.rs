//! Contract 0.2 (`wit/0.2.0`): 0.1's interfaces, unchanged in shape, served by the same
//! adapter on 0.2's bindings, and `attachments`, new in 0.2, behind the same gate.

crate::since_v0_1::serve_interfaces_of_0_1!(crate::contract::v0_2::ferry::migration);

impl wit::attachments::Host for RunState {
    async fn list(&mut self, content_id: String) -> Result<Vec<wit::attachments::Attachment>, wit::types::AccessError> {
        let found = self.attachments_list(content_id).await?;
        Ok(found
            .into_iter()
            .map(|a| wit::attachments::Attachment {
                id: a.id,
                content_id: a.content_id,
                file_name: a.file_name,
                media_type: a.media_type,
                size: a.size,
                version: a.version,
            })
            .collect())
    }

    async fn read(&mut self, attachment_id: String, offset: u64, length: u32) -> Result<Vec<u8>, wit::types::AccessError> {
        Ok(self.attachments_read(attachment_id, offset, length).await?)
    }
}
