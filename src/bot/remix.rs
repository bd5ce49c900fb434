//! Reading a remix out of a message: the largest size of a `photo`, or a
//! document whose type is an image.

use teloxide::types::Message;

use crate::service::remix::PhotoRef;

/// The photo a message carries to animate, if any.
pub fn photo_of(message: &Message) -> Option<PhotoRef> {
    if let Some(sizes) = message.photo() {
        // smallest first: the largest is the one to animate
        let largest = sizes.iter().max_by_key(|s| (u64::from(s.width) * u64::from(s.height), s.file.size))?;
        return Some(PhotoRef {
            file_id: largest.file.id.0.clone(),
            file_unique_id: largest.file.unique_id.0.clone(),
            size: Some(u64::from(largest.file.size)).filter(|s| *s > 0),
            mime: "image/jpeg".to_owned(),
        });
    }
    let document = message.document()?;
    let mime = document.mime_type.as_ref()?;
    if mime.type_() != "image" {
        return None;
    }
    Some(PhotoRef {
        file_id: document.file.id.0.clone(),
        file_unique_id: document.file.unique_id.0.clone(),
        size: Some(u64::from(document.file.size)).filter(|s| *s > 0),
        mime: mime.essence_str().to_owned(),
    })
}

/// The words sent with a photo, if any.
pub fn caption_of(message: &Message) -> Option<&str> {
    message.caption().filter(|c| !c.trim().is_empty())
}
